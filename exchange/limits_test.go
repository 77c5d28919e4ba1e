package exchange

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/transfer/memstore"
)

// bombCSV writes a valid CSV of about size bytes that deflate shrinks
// about 1000:1: one row, over and over.
func bombCSV(t *testing.T, dir string, size int) string {
	t.Helper()
	path := filepath.Join(dir, "bomb.csv")
	row := "a,b\r\n" // canonical, as pull writes it
	if err := os.WriteFile(path, []byte("x,y\r\n"+strings.Repeat(row, size/len(row))), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPullRefusesBombs: a sealed file whose CSV inflates far beyond what
// address data does, or beyond the size ceiling, is refused before
// anything is written (ErrTooLarge), and the verified download stays for
// a run with other limits. (Issue 15, item 3: it was written whole.)
func TestPullRefusesBombs(t *testing.T) {
	st := memstore.New(memstore.Options{})
	client, house := side(t, st, "client@test"), side(t, st, "house@test")
	k := newKeys(t)
	k.send.Level = 9
	res := mustSend(t, client, bombCSV(t, t.TempDir(), 32<<20), k.send)
	if ratio := float64(32<<20) / float64(res.Size); ratio < 2*DefaultMaxRatio {
		t.Fatalf("the bomb compresses only %.0f:1: the test proves nothing", ratio)
	}
	dir := t.TempDir()
	o := k.pull
	o.Dir = dir
	_, err := house.Pull(t.Context(), res.Name, o, nil)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "compression ratio") {
		t.Fatalf("pull of a bomb: %v, want ErrTooLarge for the ratio", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("written despite the refusal: %v", ents)
	}
	gets := st.Calls(memstore.Get)
	o.Limits.MaxRatio = 2000
	o.Limits.MaxSize = 16 << 20
	if _, err := house.Pull(t.Context(), res.Name, o, nil); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "max_size") {
		t.Fatalf("pull over max_size: %v, want ErrTooLarge for the size", err)
	}
	o.Limits.MaxSize = 0
	pr, err := house.Pull(t.Context(), res.Name, o, nil)
	if err != nil {
		t.Fatalf("pull with a higher ratio allowed: %v", err)
	}
	if fi, err := os.Stat(pr.Output); err != nil || fi.Size() != int64(len("x,y\r\n"))+int64((32<<20)/5*5) {
		t.Errorf("pulled CSV: %v %v", fi, err)
	}
	if n := st.Calls(memstore.Get) - gets; n > 1 {
		t.Errorf("%d GETs after the refusal, want at most the receipt's: the verified download should have been kept", n)
	}
}

// TestCheckOutput: the rule of CheckOutput, bound by bound.
func TestCheckOutput(t *testing.T) {
	free := func(n int64) func() (int64, error) { return func() (int64, error) { return n, nil } }
	for _, tc := range []struct {
		name         string
		size, stored uint64
		l            OutputLimits
		free         func() (int64, error)
		want         string // "" means allowed
	}{
		{"address data", 1 << 30, 1 << 28, OutputLimits{}, free(2 << 30), ""},
		{"reported bomb, 840:1", 256 << 20, 312 << 10, OutputLimits{}, free(1 << 40), "compression ratio of 840:1"},
		{"small file, any ratio", 1 << 20, 10, OutputLimits{}, free(1 << 40), ""},
		{"over the default ceiling", DefaultMaxSize + 1, DefaultMaxSize, OutputLimits{}, free(1 << 50), "max_size"},
		{"over a set ceiling", 2 << 20, 1 << 20, OutputLimits{MaxSize: 1 << 20}, free(1 << 40), "max_size"},
		{"ratio allowed higher", 256 << 20, 312 << 10, OutputLimits{MaxRatio: 1000}, free(1 << 40), ""},
		{"no room", 2 << 30, 1 << 30, OutputLimits{}, free(1 << 30), "bytes are free"},
		{"just room", 1 << 30, 1 << 29, OutputLimits{}, free(1 << 30), ""},
		{"free space unknown", 1 << 30, 1 << 29, OutputLimits{}, free(-1), ""},
		{"stdout: no free space check", 2 << 30, 1 << 30, OutputLimits{}, nil, ""},
	} {
		err := checkOutput("a.csv", tc.size, tc.stored, tc.l, tc.free)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want allowed", tc.name, err)
		case tc.want != "" && (!errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want ErrTooLarge saying %q", tc.name, err, tc.want)
		}
	}
	boom := errors.New("boom")
	if err := checkOutput("a.csv", 10, 10, OutputLimits{}, func() (int64, error) { return 0, boom }); !errors.Is(err, boom) || errors.Is(err, ErrTooLarge) {
		t.Errorf("failing free space: %v", err)
	}
}
