package exchange

import (
	"cmp"
	"context"
	"errors"
	"os"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/transfer"
)

// ShredPlan is what shredding one name removes.
type ShredPlan struct {
	Name, Key string
	Versions  []transfer.Version
	Uploads   []transfer.UploadInfo
	Spools    []string // spool paths (send and fetch) with files on disk
	Files     []string // those files: spools and journals
}

// Empty reports a plan that removes nothing.
func (p *ShredPlan) Empty() bool {
	return len(p.Versions)+len(p.Uploads)+len(p.Files) == 0
}

// Counts returns how many versions and delete markers the plan removes.
func (p *ShredPlan) Counts() (versions, markers int) {
	for _, v := range p.Versions {
		if v.DeleteMarker {
			markers++
		} else {
			versions++
		}
	}
	return versions, markers
}

// shredConcurrency is how many requests planning and checking a shred
// have in flight at once.
const shredConcurrency = 32

// PlanShred finds everything of name: versions and delete markers,
// unfinished uploads and local spools and journals.
func (x *Exchange) PlanShred(ctx context.Context, name string) (*ShredPlan, error) {
	plans, err := x.PlanShreds(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	return plans[0], nil
}

// PlanShreds plans the shred of each name, in the order given, asking the
// store a few names at a time (see byKeys). It fails with the first
// name's failure, in that order.
func (x *Exchange) PlanShreds(ctx context.Context, names []string) ([]*ShredPlan, error) {
	plans := make([]*ShredPlan, len(names))
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = x.Key(name)
		plans[i] = &ShredPlan{Name: name, Key: keys[i]}
	}
	// The versions and the uploads are asked for at the same time.
	var (
		versions [][]transfer.Version
		errs     []error
	)
	var uerrs []error
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		versions, errs = listVersionsOf(gctx, x.Store, keys)
		return cmp.Or(errs...)
	})
	var uploads [][]transfer.UploadInfo
	g.Go(func() error {
		uploads, uerrs = listUploadsOf(gctx, x.Store, keys)
		return cmp.Or(uerrs...)
	})
	g.Wait()
	for i, p := range plans {
		p.Versions, p.Uploads = versions[i], uploads[i]
	}
	for i := range plans {
		// A cancelled sibling's error is not the cause: look for the first
		// real one.
		if err := cmp.Or(errs[i], uerrs[i]); err != nil && (ctx.Err() != nil || !errors.Is(err, context.Canceled)) {
			return nil, err
		}
	}
	for _, p := range plans {
		x.findLocal(p)
	}
	return plans, nil
}

// findLocal adds the spools and journals of p's key to p.
func (x *Exchange) findLocal(p *ShredPlan) {
	for _, sp := range []string{x.SpoolPath(p.Key), x.DownloadPath(p.Key)} {
		found := false
		for _, f := range []string{sp, sp + ".journal"} {
			if _, err := os.Lstat(f); err == nil {
				p.Files = append(p.Files, f)
				found = true
			}
		}
		if found {
			p.Spools = append(p.Spools, sp)
		}
	}
}

// listVersionsOf returns the versions and delete markers of each key, or
// the failure to list them, by the keys' index: many keys by listing their
// longest common prefix once (see byKeys).
func listVersionsOf(ctx context.Context, store transfer.Store, keys []string) ([][]transfer.Version, []error) {
	return byKeys(ctx, keys, store.ListVersions,
		func(v transfer.Version) (string, string) { return v.Key, v.Key + "\x00" + v.VersionID },
		false, commonPrefix(keys))
}

// listUploadsOf returns the unfinished uploads of each key, or the failure
// to list them, by the keys' index: many keys by listing their common
// prefix once, or key by key when the credentials may not list it (see
// byKeys).
func listUploadsOf(ctx context.Context, store transfer.Store, keys []string) ([][]transfer.UploadInfo, []error) {
	return byKeys(ctx, keys, store.ListUploads,
		func(u transfer.UploadInfo) (string, string) { return u.Key, u.UploadID },
		true, commonPrefix(keys))
}

// byKeys gathers the items list finds for each key, by the keys' index,
// with the failure to list them. A few keys are listed key by key; many
// by listing each of prefixes once (an item found twice, by its id, counts
// once), unless those turn out to hold far more than the keys (a big
// bucket, where the listing would cost more than it saves) or, with
// deniedFallsBack, the credentials may not list them: then key by key, a
// few at a time.
func byKeys[T any](ctx context.Context, keys []string, list func(context.Context, string, func(T) error) error,
	keyID func(T) (key, id string), deniedFallsBack bool, prefixes ...string) ([][]T, []error) {
	items := make([][]T, len(keys))
	errs := make([]error, len(keys))
	if len(keys) >= prefixListingMin {
		at := make(map[string][]int, len(keys))
		for i, k := range keys {
			at[k] = append(at[k], i)
		}
		budget, seen := 4*len(keys)+1000, 0
		found := map[string]bool{}
		collect := func(item T) error {
			if seen++; seen > budget {
				return errOverBudget
			}
			key, id := keyID(item)
			if found[id] {
				return nil
			}
			found[id] = true
			for _, i := range at[key] {
				items[i] = append(items[i], item)
			}
			return nil
		}
		var err error
		for _, p := range prefixes {
			if err = list(ctx, p, collect); err != nil {
				break
			}
		}
		if err == nil {
			return items, errs
		}
		clear(items)
		if !errors.Is(err, errOverBudget) && !(deniedFallsBack && errors.Is(err, transfer.ErrAccessDenied)) {
			for i := range errs {
				errs[i] = err
			}
			return items, errs
		}
	}
	var g errgroup.Group
	g.SetLimit(shredConcurrency)
	for i, key := range keys {
		g.Go(func() error {
			errs[i] = list(ctx, key, func(item T) error {
				if k, _ := keyID(item); k == key {
					items[i] = append(items[i], item)
				}
				return nil
			})
			return nil
		})
	}
	g.Wait()
	return items, errs
}

// prefixListingMin is the fewest keys listVersionsOf and listUploadsOf
// list by their common prefix.
const prefixListingMin = 8

var errOverBudget = errors.New("listing holds far more than the names")

// commonPrefix is the longest prefix every key shares.
func commonPrefix(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	p := keys[0]
	for _, k := range keys[1:] {
		n := 0
		for n < len(p) && n < len(k) && p[n] == k[n] {
			n++
		}
		p = p[:n]
	}
	return p
}

// ShredOutcome is what Shred did for one plan.
type ShredOutcome struct {
	Aborted    []error  // by upload: nil where it was aborted
	Deleted    []error  // by version: nil where it was deleted
	Local      []error  // failures removing spools (transfer.ErrSpoolBusy: in use)
	SpoolsGone []string // the spools removed
	Left       int      // versions the listing afterwards found
	LeftErr    error    // that listing's failure
}

// Shred removes what the plans list, phase by phase across all of them
// so that many names cost few requests: first the uploads, so none can
// become a new version behind our back; then the versions, in batches;
// then the local files; then it lists again to see what remains. It
// carries on past failures and returns each plan's outcome, in order.
func (x *Exchange) Shred(ctx context.Context, plans []*ShredPlan) []ShredOutcome {
	outs := make([]ShredOutcome, len(plans))
	var g errgroup.Group
	g.SetLimit(shredConcurrency)
	for i, p := range plans {
		outs[i].Aborted = make([]error, len(p.Uploads))
		for j, u := range p.Uploads {
			g.Go(func() error {
				outs[i].Aborted[j] = x.Store.AbortUpload(ctx, u.Key, u.UploadID)
				return nil
			})
		}
	}
	g.Wait()

	// One batch for all: a version two names share (a name given twice)
	// is deleted once.
	var items []transfer.ObjectVersion
	index := map[transfer.ObjectVersion]int{}
	for _, p := range plans {
		for _, v := range p.Versions {
			it := transfer.ObjectVersion{Key: v.Key, VersionID: v.VersionID}
			if _, ok := index[it]; !ok {
				index[it] = len(items)
				items = append(items, it)
			}
		}
	}
	errs := x.Store.DeleteVersions(ctx, items)
	for i, p := range plans {
		outs[i].Deleted = make([]error, len(p.Versions))
		for j, v := range p.Versions {
			outs[i].Deleted[j] = errs[index[transfer.ObjectVersion{Key: v.Key, VersionID: v.VersionID}]]
		}
	}

	for i, p := range plans {
		for _, sp := range p.Spools {
			if err := transfer.RemoveSpool(sp); err != nil {
				outs[i].Local = append(outs[i].Local, err)
				continue
			}
			outs[i].SpoolsGone = append(outs[i].SpoolsGone, sp)
		}
	}

	// What the listing showed is gone; anything still there was written
	// meanwhile or could not be deleted.
	keys := make([]string, len(plans))
	for i, p := range plans {
		keys[i] = p.Key
	}
	left, lerrs := listVersionsOf(ctx, x.Store, keys)
	for i := range plans {
		outs[i].Left, outs[i].LeftErr = len(left[i]), lerrs[i]
	}
	return outs
}
