package exchange

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/transfer"
)

// DefaultListConcurrency is how many HEAD requests List has in flight: the
// metadata of 10,000 objects takes 10,000 small requests.
const DefaultListConcurrency = 32

// ListOptions are the settings of List.
type ListOptions struct {
	// Concurrency is the requests in flight; 0 means DefaultListConcurrency.
	Concurrency int
	// Receipts reads the receipt of each object that has one (from the
	// cache when it can).
	Receipts bool
	// Fresh asks the server for everything, not the list cache, and
	// rewrites the cache.
	Fresh bool
}

// Listed is one file of the exchange as List found it.
type Listed struct {
	// Info is as HEAD tells it, with the metadata send recorded.
	Info transfer.ObjectInfo
	// Gone: deleted between the listing and its HEAD.
	Gone bool
	// Receipt is the latest pull's receipt, nil when none (or unread).
	Receipt *Receipt
	// ManifestExpires is the expiry in the sealed file's manifest, as
	// recorded when this side pulled this very version (by ETag); zero
	// when it did not, or the file has none. Unlike the metadata's, it is
	// authenticated.
	ManifestExpires time.Time
	rkey            string // where its receipt would be
}

// Expires is the expiry send recorded with the file, or zero.
func (l *Listed) Expires() time.Time {
	t, _ := time.Parse(time.RFC3339, l.Info.Metadata[MetaExpires])
	return t
}

// ExpiryDisagrees reports a file whose metadata says another expiry than
// its manifest did when this side pulled it: someone changed the metadata
// after sending, or sent it with other tools. The metadata holds whole
// seconds (RFC 3339), the manifest the exact time: they agree when equal
// to the second.
func (l *Listed) ExpiryDisagrees() bool {
	return !l.ManifestExpires.IsZero() && !l.ManifestExpires.Truncate(time.Second).Equal(l.Expires().Truncate(time.Second))
}

// Expired reports whether the file has an expiry that now is past.
func (l *Listed) Expired(now time.Time) bool {
	exp := l.Expires()
	return !exp.IsZero() && now.After(exp)
}

// List lists the files under the prefix (never xfer's own records) and
// HEADs each for its metadata, o.Concurrency at a time; with o.Receipts it
// reads the receipt of each file that has one. What the list cache holds
// of an unchanged object is not asked again, unless o.Fresh.
func (x *Exchange) List(ctx context.Context, o ListOptions, rep Reporter) ([]*Listed, error) {
	rep = orQuiet(rep)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultListConcurrency
	}
	// The cache loads while the listing waits on the server.
	loaded := make(chan *listCache, 1)
	go func() { loaded <- x.openListCache(o.Fresh, rep) }()
	var objs []*Listed
	receipts := map[string]transfer.ObjectInfo{} // the receipts under the prefix, as listed
	if err := x.listObjects(ctx, func(o transfer.ObjectInfo) error {
		switch {
		case !x.IsInternal(o.Key):
			objs = append(objs, &Listed{Info: o, rkey: ReceiptKey(o.Key)})
		case IsReceiptKey(o.Key):
			receipts[o.Key] = o
		}
		return nil
	}); err != nil {
		<-loaded
		return nil, err
	}
	cache := <-loaded
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, lo := range objs {
		listed := lo.Info
		if info, ok := cache.head(listed); ok {
			lo.Info = info
			continue
		}
		g.Go(func() error {
			info, err := x.Store.Head(gctx, listed.Key)
			if errors.Is(err, transfer.ErrNotFound) {
				lo.Gone = true
				return nil
			}
			if err != nil {
				return err
			}
			lo.Info = info
			cache.putHead(listed, info)
			return nil
		})
	}
	// Receipts: what was pulled, by whom, when. Each lies beside its
	// object; only those of listed objects are read.
	for _, lo := range objs {
		rinfo, ok := receipts[lo.rkey] // not lo.Info: the HEADs above may be filling it in
		if !ok {
			continue
		}
		if r, ok := cache.receipt(rinfo); ok {
			lo.Receipt = r
			continue
		}
		if !o.Receipts {
			continue
		}
		g.Go(func() error {
			r, err := readReceipt(gctx, x.Store, rinfo.Key)
			if err != nil {
				return nil // a receipt is a courtesy: an unreadable one is no reason to fail
			}
			lo.Receipt = r
			cache.putReceipt(rinfo, r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	x.addManifestExpiries(objs, rep)
	if err := cache.save(x.Prefix); err != nil {
		rep.Warn("list cache not saved (the next list asks the server again): %v", err)
	}
	return objs, nil
}

// Uploads returns the unfinished multipart uploads under the prefix, by
// key and then age.
func (x *Exchange) Uploads(ctx context.Context) ([]transfer.UploadInfo, error) {
	var ups []transfer.UploadInfo
	if err := x.Store.ListUploads(ctx, x.Prefix, func(u transfer.UploadInfo) error {
		if strings.HasPrefix(u.Key, x.Prefix) {
			ups = append(ups, u)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	slices.SortFunc(ups, func(a, b transfer.UploadInfo) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.Initiated.Compare(b.Initiated)
	})
	return ups, nil
}

// Versions calls fn for every version and delete marker of the files
// under the prefix (never of xfer's own records), newest first within a
// key, stopping at fn's first error, which it returns.
func (x *Exchange) Versions(ctx context.Context, fn func(transfer.Version) error) error {
	return x.Store.ListVersions(ctx, x.Prefix, func(v transfer.Version) error {
		if x.IsInternal(v.Key) {
			return nil
		}
		return fn(v)
	})
}

// addManifestExpiries fills in what the pull state recorded of each
// file's manifest expiry.
func (x *Exchange) addManifestExpiries(objs []*Listed, rep Reporter) {
	if x.StateDir == "" {
		return
	}
	st, err := x.pullState().read()
	if err != nil {
		rep.Warn("the pull state could not be read (list cannot compare expiries with the manifests): %v", err)
		return
	}
	for _, lo := range objs {
		if t, ok := st.expires[stateKey(x.Ident, lo.Info.Key, lo.Info.ETag)]; ok {
			lo.ManifestExpires = t
		}
	}
}
