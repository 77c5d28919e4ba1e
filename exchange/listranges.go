package exchange

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/transfer"
)

// A listing of S3 is a chain of requests, each asking for the 1000 keys
// after the last: 100,000 keys are 100 round trips one after the other.
// Where the keys of a prefix lay when it was last listed splits its next
// listing into ranges listed at once, each starting after one of those
// keys (StartAfter). The split keys are only a hint: each range lists
// every key after its start up to the next range's start, whatever was
// added or removed since, so the ranges together are exactly one listing.
// They cost a request a range more than one listing; they hold keys, which
// anyone who may list the exchange can read there, nothing else.

// listRangeKeys is about how many keys one range holds: a few pages, so
// that the extra request a range costs stays small; a variable for the
// tests.
var listRangeKeys = 4000

// listRangesAtOnce is how many ranges are listed at once.
const listRangesAtOnce = 16

// maxListSplits bounds the split keys kept of one prefix; a larger
// listing has larger ranges.
const maxListSplits = 256

// maxRangePrefixes bounds the prefixes the file keeps split keys of.
const maxRangePrefixes = 256

// listRangesVersion is the version of the ranges file's format; a file of
// another version is ignored and replaced.
const listRangesVersion = 1

// listRanges is the file of split keys, one per exchange, in CacheDir.
type listRanges struct {
	Version int `json:"version"`
	// Splits are the split keys of each prefix listed, sorted.
	Splits map[string][]string `json:"splits"`
}

// errRangeEnd stops the listing of a range at its end.
var errRangeEnd = errors.New("end of the range")

// listObjects calls fn for every object under the prefix in key order, as
// Store.List does, listing in ranges at once where the ranges file knows
// where to split (see above), and recording new split keys when there
// were none or the ranges have grown uneven. Without a CacheDir it is
// Store.List.
func (x *Exchange) listObjects(ctx context.Context, fn func(transfer.ObjectInfo) error) error {
	if x.CacheDir == "" {
		return x.Store.List(ctx, x.Prefix, fn)
	}
	path := x.cachePath(".ranges.json")
	file := readListRanges(path)
	splits := file.splitsOf(x.Prefix)
	parts := make([][]transfer.ObjectInfo, len(splits)+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(listRangesAtOnce)
	for i := range parts {
		after, last := "", ""
		if i > 0 {
			after = splits[i-1]
		}
		if i < len(splits) {
			last = splits[i]
		}
		g.Go(func() error {
			err := x.Store.ListAfter(gctx, x.Prefix, after, func(o transfer.ObjectInfo) error {
				if last != "" && o.Key > last {
					return errRangeEnd
				}
				parts[i] = append(parts[i], o)
				return nil
			})
			if errors.Is(err, errRangeEnd) {
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	n, uneven := 0, false
	for _, p := range parts {
		n += len(p)
		uneven = uneven || len(p) > 2*listRangeKeys
	}
	// Too many ranges for the keys there are now is uneven too.
	uneven = uneven || len(parts) > 1 && n < len(parts)*listRangeKeys/4
	var keys []string
	if uneven || len(splits) == 0 && n > 2*listRangeKeys {
		keys = make([]string, 0, n)
	}
	for i, p := range parts {
		for _, o := range p {
			if keys != nil {
				keys = append(keys, o.Key)
			}
			if err := fn(o); err != nil {
				return err
			}
		}
		parts[i] = nil
	}
	if keys != nil {
		file.set(x.Prefix, splitKeys(keys))
		_ = file.write(path) // a hint: without it the next listing is one chain
	}
	return nil
}

// splitKeys chooses the split keys of a listing's sorted keys: about one
// every listRangeKeys, at most maxListSplits. Keys a server may not
// return exactly (controls, invalid UTF-8) are passed over.
func splitKeys(keys []string) []string {
	step := max(listRangeKeys, len(keys)/(maxListSplits+1)+1)
	var out []string
	for i := step; i < len(keys); {
		k := keys[i]
		if !plainKey(k) {
			i++
			continue
		}
		out = append(out, k)
		i += step
	}
	return out
}

func plainKey(k string) bool {
	if !utf8.ValidString(k) {
		return false
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// cachePath names a file of the exchange's in CacheDir: a hash of its
// Ident, then suffix.
func (x *Exchange) cachePath(suffix string) string {
	h := sha256.Sum256([]byte(x.Ident))
	return filepath.Join(x.CacheDir, hex.EncodeToString(h[:16])+suffix)
}

// readListRanges reads the file; one that is missing, unreadable or of
// another version is an empty one.
func readListRanges(path string) *listRanges {
	f := &listRanges{Version: listRangesVersion, Splits: map[string][]string{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return f
	}
	var read listRanges
	if json.Unmarshal(b, &read) != nil || read.Version != listRangesVersion || read.Splits == nil {
		return f
	}
	return &read
}

// splitsOf returns the split keys of a listing of prefix: those recorded
// for it, or else those of other prefixes that fall under it (a listing
// of clients/ split by those of clients/c0042/, or the reverse), sorted.
func (f *listRanges) splitsOf(prefix string) []string {
	if s, ok := f.Splits[prefix]; ok {
		return checkedSplits(s, prefix)
	}
	var out []string
	for _, s := range f.Splits {
		for _, k := range s {
			if strings.HasPrefix(k, prefix) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return checkedSplits(slices.Compact(out), prefix)
}

// checkedSplits keeps of s the keys under prefix, sorted, without
// repeats, as a file written by hand need not be.
func checkedSplits(s []string, prefix string) []string {
	s = slices.DeleteFunc(slices.Clone(s), func(k string) bool { return !strings.HasPrefix(k, prefix) || !plainKey(k) })
	slices.Sort(s)
	return slices.Compact(s)
}

// set records the split keys of prefix (none: forgets it), keeping at
// most maxRangePrefixes prefixes.
func (f *listRanges) set(prefix string, splits []string) {
	if len(splits) == 0 {
		delete(f.Splits, prefix)
		return
	}
	for k := range f.Splits {
		if len(f.Splits) < maxRangePrefixes {
			break
		}
		if k != prefix {
			delete(f.Splits, k)
		}
	}
	f.Splits[prefix] = splits
}

// write replaces the file, whole (a temporary file renamed), 0600.
func (f *listRanges) write(path string) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := fileperm.MkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	w, err := safefile.Replace(path)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.Commit()
}
