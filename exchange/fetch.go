package exchange

import (
	"context"
	"time"

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
	f, err := x.startFetch(ctx, name, o, rep)
	if err != nil {
		return nil, err
	}
	return f.wait()
}

// fetching is a Fetch under way: its download's Stream reads the object
// as it arrives, wait ends it as Fetch does.
type fetching struct {
	*transfer.Downloading
	name  string
	m     Meter
	rep   Reporter
	start time.Time
}

func (x *Exchange) startFetch(ctx context.Context, name string, o FetchOptions, rep Reporter) (*fetching, error) {
	rep = orQuiet(rep)
	key := x.Key(name)
	m := rep.Transfer("fetching " + name)
	start := time.Now()
	dl, err := transfer.StartDownload(ctx, x.Store, x.DownloadPath(key), transfer.DownloadOptions{
		Key:         key,
		ChunkSize:   x.chunkSize,
		Concurrency: o.Concurrency,
		Limit:       o.Limit,
		Progress:    m,
	})
	if err != nil {
		m.Finish()
		return nil, err
	}
	return &fetching{Downloading: dl, name: name, m: m, rep: rep, start: start}, nil
}

func (f *fetching) wait() (*transfer.Fetched, error) {
	d, err := f.Wait()
	f.m.Finish()
	if err != nil {
		return nil, err
	}
	if d.Restarted {
		f.rep.Warn("%s: what an earlier run downloaded could not be used (the object was replaced in the exchange, or the local copy was damaged): fetched it again from the start", f.name)
	}
	if !d.Verified {
		f.rep.Warn("the server keeps no checksum for %s: only its size was checked", f.name)
	}
	check := "size checked"
	if d.Verified {
		check = "verified against the server's SHA-256"
	}
	f.rep.Step("%s: fetched %d bytes (%d resumed from an earlier run) in %s, %s", f.name, d.Size(), d.Resumed, took(f.start), check)
	return d, nil
}
