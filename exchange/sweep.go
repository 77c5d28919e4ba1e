package exchange

import (
	"context"
	"fmt"
	"time"
)

// Sweep's rule. A file's xfer-expires metadata is not authenticated:
// anyone who may write the prefix can set it, remove it or garble it. So
// it is never the whole story: a file without a readable expiry is kept
// no longer than the maximum retention (not forever), no expiry counts for
// more than that either, the manifest's expiry (inside the sealed file,
// under its MAC) replaces the metadata's once this side has pulled the
// file, and no file younger than the minimum age is shredded, whatever
// its metadata says. A file's age is the server's upload time, which the
// writer cannot set.

// DefaultMaxRetention is the longest sweep keeps a file, counted from its
// upload: 90 days, three times send's default expiry of 30 days, so a
// sender's longer --expires still fits, and short enough that a file
// whose expiry was removed does not stay for good.
const DefaultMaxRetention = 90 * 24 * time.Hour

// DefaultMinAge is the age below which sweep shreds nothing: one day, so a
// file uploaded with an expiry in the past (by mistake, or by someone who
// may write the prefix and wants it gone before it is pulled) survives at
// least one daily pull.
const DefaultMinAge = 24 * time.Hour

// Retention is the rule sweep applies to what a file's metadata claims.
type Retention struct {
	// Max is the longest a file is kept after its upload; 0 means
	// DefaultMaxRetention.
	Max time.Duration
	// MinAge is the age below which no file is shredded; 0 means
	// DefaultMinAge, a negative value no minimum.
	MinAge time.Duration
}

// Where an expiry came from (Retention.Expiry).
const (
	FromManifest     = "manifest"      // the sealed file's manifest, recorded when it was pulled here
	FromMetadata     = "metadata"      // the xfer-expires metadata
	FromMaxRetention = "max_retention" // none readable, or a later one: the maximum retention
)

func (r Retention) max() time.Duration {
	if r.Max <= 0 {
		return DefaultMaxRetention
	}
	return r.Max
}

func (r Retention) minAge() time.Duration {
	switch {
	case r.MinAge < 0:
		return 0
	case r.MinAge == 0:
		return DefaultMinAge
	}
	return r.MinAge
}

// Expiry is when sweep may shred l, and where that came from: the
// manifest's expiry when this side pulled this very version, else the
// metadata's; but never later than the upload plus the maximum retention,
// which is also the expiry of a file with neither.
func (r Retention) Expiry(l *Listed) (time.Time, string) {
	limit := l.Info.LastModified.Add(r.max())
	at, from := l.ManifestExpires, FromManifest
	if at.IsZero() {
		at, from = l.Expires(), FromMetadata
	}
	if at.IsZero() || at.After(limit) {
		return limit, FromMaxRetention
	}
	return at, from
}

// TooYoung reports whether l is younger than the minimum age at now.
func (r Retention) TooYoung(l *Listed, now time.Time) bool {
	return now.Sub(l.Info.LastModified) < r.minAge()
}

// SweepPlan is what a sweep found under the prefix.
type SweepPlan struct {
	// Retention is the rule the plan was made with.
	Retention Retention
	// Expired are the files to shred, in key order: past their expiry
	// (see Retention.Expiry) and not too young.
	Expired []*Listed
	// Unexpired counts the files whose expiry lies ahead; NoExpiry those
	// without a readable expiry whose maximum retention lies ahead; Young
	// those past their expiry but younger than the minimum age.
	Unexpired, NoExpiry, Young int
}

// PlanSweep lists the files (as List, through the list cache) and sorts
// them by the rule r against now.
func (x *Exchange) PlanSweep(ctx context.Context, now time.Time, r Retention, rep Reporter) (*SweepPlan, error) {
	objs, err := x.List(ctx, ListOptions{}, rep)
	if err != nil {
		return nil, err
	}
	p := SweepPlan{Retention: r}
	for _, lo := range objs {
		if lo.Gone {
			continue
		}
		exp, from := r.Expiry(lo)
		switch {
		case !now.After(exp) && from == FromMaxRetention && lo.Expires().IsZero() && lo.ManifestExpires.IsZero():
			p.NoExpiry++
		case !now.After(exp):
			p.Unexpired++
		case r.TooYoung(lo, now):
			p.Young++
		default:
			p.Expired = append(p.Expired, lo)
		}
	}
	return &p, nil
}

// PlanExpiredShred plans the shred of an expired file as PlanSweep listed
// it: only the version listed goes. A file replaced by a newer upload since
// the listing is left for the next sweep (ErrReplaced), and so is an upload
// in progress under its name: that is a new file, not an expired one.
func (x *Exchange) PlanExpiredShred(ctx context.Context, l *Listed) (*ShredPlan, error) {
	name := x.Name(l.Info.Key)
	plan, err := x.PlanShred(ctx, name)
	if err != nil {
		return nil, err
	}
	if !LatestIs(plan.Versions, l.Info.ETag) {
		return nil, replacedError{fmt.Sprintf("%s was replaced by a newer upload since the listing", name)}
	}
	plan.Uploads = nil
	return plan, nil
}
