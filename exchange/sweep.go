package exchange

import (
	"context"
	"fmt"
	"time"
)

// SweepPlan is what a sweep found under the prefix.
type SweepPlan struct {
	// Expired are the files whose expiry has passed, in key order.
	Expired []*Listed
	// Unexpired counts the files whose expiry lies ahead, NoExpiry those
	// without an xfer expiry (not sent by xfer), which sweep leaves alone.
	Unexpired, NoExpiry int
}

// PlanSweep lists the files (as List, through the list cache) and sorts
// them by their expiry against now.
func (x *Exchange) PlanSweep(ctx context.Context, now time.Time, rep Reporter) (*SweepPlan, error) {
	objs, err := x.List(ctx, ListOptions{}, rep)
	if err != nil {
		return nil, err
	}
	var p SweepPlan
	for _, lo := range objs {
		switch {
		case lo.Gone:
		case lo.Expires().IsZero():
			p.NoExpiry++
		case !lo.Expired(now):
			p.Unexpired++
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
