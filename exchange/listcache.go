package exchange

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/transfer"
)

// listCache remembers what list learnt about the objects of one exchange
// beyond the listing: each object's HEAD (its metadata) and each parsed
// receipt. An entry is used only for an object listed with the same key,
// ETag, size and LastModified as when it was recorded: S3 cannot change an
// object's metadata without rewriting the object, which gives it a new
// LastModified. So a second list of unchanged objects needs no HEAD and no
// receipt read.
//
// It holds object metadata and receipts, which anyone who may list the
// exchange can read there, never anything from inside a sealed file. It is
// a cache: one that cannot be read is ignored, and one that cannot be
// written costs the next list its speed, nothing else. Of two lists saving
// at once the last wins; each file it reads is whole (safefile.Replace).
//
// The methods are safe for concurrent use; a nil *listCache caches nothing.
type listCache struct {
	path  string
	fresh bool // use nothing recorded; record anew

	mu      sync.Mutex
	old     listCacheFile // as loaded
	seen    listCacheFile // what this listing confirmed or learnt
	learnt  bool          // seen holds an entry old does not
	replace bool          // the file is not one to keep: rewrite it
}

// listCacheVersion is the version of the file format; a file of another
// version is ignored and replaced.
const listCacheVersion = 1

// maxListCacheEntries bounds the file, about 400 bytes an entry; a
// variable for the tests.
var maxListCacheEntries = 200_000

// listCacheFile is the file, one per exchange, in encoding/gob: it loads
// several times faster than JSON (10,000 entries: about 30 against 120 ms).
type listCacheFile struct {
	Version  int
	Objects  map[string]*cachedHead    // by object key
	Receipts map[string]*cachedReceipt // by receipt key
}

// listedStamp is what the listing shows of an object, which changes
// whenever the object is rewritten.
type listedStamp struct {
	ETag   string
	Size   int64
	Listed int64 // LastModified in the listing, Unix ns
}

func stampOf(o transfer.ObjectInfo) listedStamp {
	return listedStamp{ETag: o.ETag, Size: o.Size, Listed: o.LastModified.UnixNano()}
}

// cachedHead is a HEAD's answer about a listed object.
type cachedHead struct {
	Stamp     listedStamp
	Modified  int64 // LastModified as HEAD gave it (S3: whole seconds), Unix ns
	VersionID string
	Metadata  map[string]string
	Checksum  string
}

type cachedReceipt struct {
	Stamp   listedStamp
	Receipt *Receipt
}

// openListCache loads the list cache of the exchange. With fresh it still
// loads the file, to keep the entries of other prefixes, but answers no
// lookup. It never fails: an unusable cache is a warning and an empty
// cache, no cache directory means none at all (nil).
func (x *Exchange) openListCache(fresh bool, rep Reporter) *listCache {
	if x.CacheDir == "" {
		return nil
	}
	c := newListCache(x.cachePath(".gob"), fresh)
	if err := c.load(); err != nil {
		c.replace = true
		rep.Warn("list cache %s ignored: %v", c.path, err)
	}
	return c
}

func newListCache(path string, fresh bool) *listCache {
	return &listCache{path: path, fresh: fresh,
		seen: listCacheFile{Version: listCacheVersion, Objects: map[string]*cachedHead{}, Receipts: map[string]*cachedReceipt{}}}
}

// load reads the file; a missing file or one of another version is an
// empty cache, not an error.
func (c *listCache) load() error {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var file listCacheFile
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&file); err != nil {
		// A format this xfer does not know need not decode as this one.
		var v struct{ Version int }
		if gob.NewDecoder(bytes.NewReader(b)).Decode(&v) == nil && v.Version != listCacheVersion {
			c.replace = true
			return nil
		}
		return fmt.Errorf("not a list cache: %w", err)
	}
	if file.Version != listCacheVersion {
		c.replace = true
		return nil
	}
	c.old = file
	return nil
}

// head returns what HEAD told about the object as listed, if recorded.
func (c *listCache) head(listed transfer.ObjectInfo) (transfer.ObjectInfo, bool) {
	if c == nil || c.fresh {
		return transfer.ObjectInfo{}, false
	}
	e := c.old.Objects[listed.Key]
	if e == nil || e.Stamp != stampOf(listed) {
		return transfer.ObjectInfo{}, false
	}
	c.mu.Lock()
	c.seen.Objects[listed.Key] = e
	c.mu.Unlock()
	return transfer.ObjectInfo{Key: listed.Key, Size: e.Stamp.Size, ETag: e.Stamp.ETag, LastModified: time.Unix(0, e.Modified).UTC(),
		VersionID: e.VersionID, Metadata: e.Metadata, Checksum: e.Checksum}, true
}

// putHead records what HEAD told about the object as listed. An answer
// about another object under the same key (rewritten since the listing)
// is not recorded: the listing's stamp would not describe it.
func (c *listCache) putHead(listed, h transfer.ObjectInfo) {
	if c == nil || h.ETag != listed.ETag || h.Size != listed.Size {
		return
	}
	e := &cachedHead{Stamp: stampOf(listed), Modified: h.LastModified.UnixNano(), VersionID: h.VersionID,
		Metadata: h.Metadata, Checksum: h.Checksum}
	c.mu.Lock()
	c.seen.Objects[listed.Key] = e
	c.learnt = true
	c.mu.Unlock()
}

// receipt returns the receipt read from the receipt object as listed, if
// recorded.
func (c *listCache) receipt(listed transfer.ObjectInfo) (*Receipt, bool) {
	if c == nil || c.fresh {
		return nil, false
	}
	e := c.old.Receipts[listed.Key]
	if e == nil || e.Receipt == nil || e.Stamp != stampOf(listed) {
		return nil, false
	}
	c.mu.Lock()
	c.seen.Receipts[listed.Key] = e
	c.mu.Unlock()
	return e.Receipt, true
}

// putReceipt records the receipt read from the receipt object as listed.
// A receipt is rewritten whole with a new time in it, so the stamp of the
// listing describes what was read unless a pull rewrote it in between;
// then the next list, seeing a new stamp, reads it again.
func (c *listCache) putReceipt(listed transfer.ObjectInfo, r *Receipt) {
	if c == nil || r == nil {
		return
	}
	c.mu.Lock()
	c.seen.Receipts[listed.Key] = &cachedReceipt{Stamp: stampOf(listed), Receipt: r}
	c.learnt = true
	c.mu.Unlock()
}

// save writes the cache: for keys under prefix, only what this listing
// saw; for other keys, what the file held, as room allows. When that is
// what the file holds already, as after a list of unchanged files, it
// writes nothing.
func (c *listCache) save(prefix string) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.learnt && !c.replace && !prunes(c.old.Objects, c.seen.Objects, prefix) && !prunes(c.old.Receipts, c.seen.Receipts, prefix) {
		return nil
	}
	out := c.seen
	n := len(out.Objects) + len(out.Receipts)
	for k := range out.Objects {
		if n <= maxListCacheEntries {
			break
		}
		delete(out.Objects, k)
		n--
	}
	n = keepOthers(out.Objects, c.old.Objects, prefix, n)
	keepOthers(out.Receipts, c.old.Receipts, prefix, n)
	if err := fileperm.MkdirAll(filepath.Dir(c.path)); err != nil {
		return err
	}
	f, err := safefile.Replace(c.path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := bufio.NewWriterSize(f, 64<<10)
	if err := gob.NewEncoder(w).Encode(&out); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

// prunes reports whether old has a key under prefix that seen has not.
func prunes[E any](old, seen map[string]*E, prefix string) bool {
	for k := range old {
		if strings.HasPrefix(k, prefix) && seen[k] == nil {
			return true
		}
	}
	return false
}

// keepOthers copies the entries of old outside prefix to out until the
// file's n entries reach the cap, and returns the new n.
func keepOthers[E any](out, old map[string]*E, prefix string, n int) int {
	for k, e := range old {
		if n >= maxListCacheEntries {
			break
		}
		if !strings.HasPrefix(k, prefix) {
			out[k] = e
			n++
		}
	}
	return n
}
