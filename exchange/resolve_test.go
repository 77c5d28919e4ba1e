package exchange

import (
	"errors"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// TestResolve: a name without the sealed suffix names the one sealed file
// it matches, is refused naming both when both are there, and is taken
// as given when it is an object itself or matches nothing; a name that
// matches nothing leaves an empty shred plan, which Check refuses.
// (Issue 14, item 5: 'xfer shred acme.csv' and the shred of a name that
// is not there both succeeded with nothing done.)
func TestResolve(t *testing.T) {
	st := memstore.New(memstore.Options{})
	x := side(t, st, "house@test")
	put(t, st, "p/one.csv.zip.age", "1", nil)
	put(t, st, "p/two.csv.zip.age", "2", nil)
	put(t, st, "p/two.csv.zip.aes", "2", nil)
	put(t, st, "p/aes.csv.zip.aes", "3", nil)
	put(t, st, "p/plain.csv", "4", nil)
	put(t, st, "p/plain.csv.zip.age", "5", nil)
	for name, want := range map[string]string{
		"one.csv":         "one.csv.zip.age",
		"aes.csv":         "aes.csv.zip.aes",
		"one.csv.zip.age": "one.csv.zip.age",
		"one.csv.zip.aes": "one.csv.zip.aes", // suffixed: as given, not there
		"plain.csv":       "plain.csv",       // an object of exactly that name wins
		"none.csv":        "none.csv",
	} {
		got, err := x.Resolve(t.Context(), name)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	_, err := x.Resolve(t.Context(), "two.csv")
	if !errors.Is(err, ErrAmbiguous) || !errors.Is(err, ErrBadName) ||
		!strings.Contains(err.Error(), "two.csv.zip.age") || !strings.Contains(err.Error(), "two.csv.zip.aes") {
		t.Errorf("Resolve(two.csv) = %v, want ErrAmbiguous naming both", err)
	}
	if _, err := x.Resolve(t.Context(), "../x"); !errors.Is(err, ErrBadName) {
		t.Errorf("Resolve(../x) = %v, want ErrBadName", err)
	}

	plans, err := x.PlanShreds(t.Context(), []string{"none.csv", "one.csv.zip.age"})
	if err != nil {
		t.Fatal(err)
	}
	if err := plans[0].Check(); !errors.Is(err, ErrNotInExchange) || !errors.Is(err, transfer.ErrNotFound) {
		t.Errorf("plan of a name not there: Check() = %v, want ErrNotInExchange", err)
	}
	if err := plans[1].Check(); err != nil {
		t.Errorf("plan of a file that is there: Check() = %v", err)
	}

	// A failing store is a failure, not "not there".
	st.Inject(memstore.Fault{Method: memstore.Head, Permanent: true})
	if _, err := x.Resolve(t.Context(), "one.csv"); err == nil {
		t.Error("Resolve with a failing HEAD succeeded")
	}
}
