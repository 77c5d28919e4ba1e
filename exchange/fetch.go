package exchange

import (
	"context"

	"github.com/xfer-dev/xfer/transfer"
)

// FetchOptions are the settings of a download.
type FetchOptions struct {
	Concurrency int
	// Limit caps the download's bytes per second; nil: no cap.
	Limit *transfer.RateLimiter
}

// Fetch downloads the object name into its spool, resumably, and returns
// it verified against the server's checksum (Verified false: the server
// keeps none, only the size was checked). The caller removes the spool
// (Remove) once it has what it needs, or keeps it for a re-run (Release).
// transfer.ErrInterrupted: what was downloaded is kept for a re-run.
func (x *Exchange) Fetch(ctx context.Context, name string, o FetchOptions, rep Reporter) (*transfer.Fetched, error) {
	rep = orQuiet(rep)
	key := x.Key(name)
	m := rep.Transfer("fetching " + name)
	defer m.Finish()
	d, err := transfer.Download(ctx, x.Store, x.DownloadPath(key), transfer.DownloadOptions{
		Key:         key,
		Concurrency: o.Concurrency,
		Limit:       o.Limit,
		Progress:    m,
	})
	m.Finish()
	if err != nil {
		return nil, err
	}
	if d.Restarted {
		rep.Warn("%s: what an earlier run downloaded could not be used (the object was replaced in the exchange, or the local copy was damaged): fetched it again from the start", name)
	}
	if !d.Verified {
		rep.Warn("the server keeps no checksum for %s: only its size was checked", name)
	}
	return d, nil
}
