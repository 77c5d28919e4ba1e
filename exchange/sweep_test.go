package exchange

import (
	"slices"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/transfer/memstore"
)

// TestSweepDistrustsMetadata: the xfer-expires metadata, which anyone who
// may write the prefix can set, no longer decides alone. A file without a
// readable expiry is kept for the maximum retention, not for ever; a far
// expiry is capped by it; a file younger than the minimum age stays
// whatever its metadata says; and a file pulled here is swept by its
// manifest's expiry, which list shows disagreeing with the metadata.
// (Issue 15, item 4: before, the first two stayed for good, the third went
// at once, and the fourth stayed until 2099.)
func TestSweepDistrustsMetadata(t *testing.T) {
	st := memstore.New(memstore.Options{Versioned: true})
	house := side(t, st, "house@test")
	start := time.Now()
	meta := func(exp string) map[string]string { return map[string]string{MetaExpires: exp} }
	put(t, st, "p/none.csv.zip.age", "1", nil)
	put(t, st, "p/garbled.csv.zip.age", "2", meta("next tuesday"))
	put(t, st, "p/forever.csv.zip.age", "3", meta("2099-01-01T00:00:00Z"))
	put(t, st, "p/sudden.csv.zip.age", "4", meta(start.Add(-time.Hour).UTC().Format(time.RFC3339)))

	// A sealed file sent with a 30-day expiry, put back with metadata that
	// claims 2099 before the house pulls it.
	other := memstore.New(memstore.Options{})
	client := side(t, other, "client@test")
	k := newKeys(t)
	sent := mustSend(t, client, csvFile(t, t.TempDir(), "pulled.csv", 20), k.send)
	body, _ := other.Object(sent.Key)
	put(t, st, "p/pulled.csv.zip.age", string(body), meta("2099-01-01T00:00:00Z"))
	// The same file as sent, metadata untouched: the metadata's expiry
	// (whole seconds) and the manifest's (nanoseconds) agree.
	info, err := other.Head(t.Context(), sent.Key)
	if err != nil {
		t.Fatal(err)
	}
	put(t, st, "p/honest.csv.zip.age", string(body), info.Metadata)
	o := k.pull
	o.Dir = t.TempDir()
	for _, name := range []string{"pulled.csv.zip.age", "honest.csv.zip.age"} {
		if _, err := house.Pull(t.Context(), name, o, nil); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := house.List(t.Context(), ListOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, lo := range objs {
		want := lo.Info.Key == "p/pulled.csv.zip.age"
		if lo.ExpiryDisagrees() != want {
			t.Errorf("%s: ExpiryDisagrees %v (manifest %v, metadata %v), want %v", lo.Info.Key, lo.ExpiryDisagrees(), lo.ManifestExpires, lo.Expires(), want)
		}
		if want {
			if d := lo.ManifestExpires.Sub(start.Add(30 * 24 * time.Hour)); d < -time.Minute || d > time.Minute {
				t.Errorf("manifest expiry %v, want about 30 days from %v", lo.ManifestExpires, start)
			}
		}
	}

	sweep := func(after time.Duration, r Retention) (names []string, p *SweepPlan) {
		t.Helper()
		p, err := house.PlanSweep(t.Context(), start.Add(after), r, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Expired {
			names = append(names, house.Name(l.Info.Key))
		}
		slices.Sort(names)
		return names, p
	}
	day := 24 * time.Hour
	for _, tc := range []struct {
		after time.Duration
		r     Retention
		want  []string
		// unexpired, no expiry, young
		counts [3]int
	}{
		// An hour after upload, sudden's expiry has passed, but it is
		// younger than a day.
		{time.Hour, Retention{}, nil, [3]int{3, 2, 1}},
		{time.Hour, Retention{MinAge: -1}, []string{"sudden.csv.zip.age"}, [3]int{3, 2, 0}},
		{2 * day, Retention{}, []string{"sudden.csv.zip.age"}, [3]int{3, 2, 0}},
		// The manifest's 30 days, not the metadata's 2099.
		{31 * day, Retention{}, []string{"honest.csv.zip.age", "pulled.csv.zip.age", "sudden.csv.zip.age"}, [3]int{1, 2, 0}},
		// The maximum retention: for no expiry, a garbled one, and 2099.
		{91 * day, Retention{}, []string{"forever.csv.zip.age", "garbled.csv.zip.age", "honest.csv.zip.age", "none.csv.zip.age", "pulled.csv.zip.age", "sudden.csv.zip.age"}, [3]int{0, 0, 0}},
		{91 * day, Retention{Max: 365 * day}, []string{"honest.csv.zip.age", "pulled.csv.zip.age", "sudden.csv.zip.age"}, [3]int{1, 2, 0}},
	} {
		names, p := sweep(tc.after, tc.r)
		if !slices.Equal(names, tc.want) || [3]int{p.Unexpired, p.NoExpiry, p.Young} != tc.counts {
			t.Errorf("sweep %v after the uploads with %+v: expired %v, unexpired/no expiry/young %d/%d/%d; want %v, %v",
				tc.after, tc.r, names, p.Unexpired, p.NoExpiry, p.Young, tc.want, tc.counts)
		}
	}
}
