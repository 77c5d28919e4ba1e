package screen

import (
	"io"
	"runtime"
	"testing"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
)

// TestMemoryBounded streams 128 MiB of CSV, generated as it is read, through
// a Screen with every check on and a column dropped: the heap grows by the
// duplicate table (8 bytes a slot, here under 8 MiB) and a few buffers,
// never with the input.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 128 MiB")
	}
	pr, pw := io.Pipe()
	go func() { _, err := addrgen.Write(pw, 128<<20, 3); pw.CloseWithError(err) }()
	list := plainList(t, "last_name\nSmith\nJones\n", "last_name")
	s := New(Rules{
		Required: []string{"customer_id"}, PostcodeColumn: "postcode", Drop: []string{"phone"},
		Duplicate: Warn, Lists: []*List{list},
	}, io.Discard)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, uint64(0)
	buf := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(pr, buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				t.Fatal(werr)
			}
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		if err != nil {
			break
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep := s.Report()
	grown := int64(peak) - int64(base)
	t.Logf("%d rows: heap grew by at most %.1f MiB", rep.RowsIn, float64(grown)/(1<<20))
	// 128 MiB of garbage-collected chunks can sit in the heap between
	// collections; what matters is that growth is far below the input.
	if grown > 48<<20 {
		t.Fatalf("heap grew by %d bytes for 128 MiB of input", grown)
	}
}

// TestNoAllocationsPerRow: once warm, screening a chunk of ordinary rows
// allocates nothing, so the garbage collector never scales with rows.
func TestNoAllocationsPerRow(t *testing.T) {
	data := genCSV(t, 2<<20, 5)
	head := len(addrgen.Header)
	list := plainList(t, "last_name,first_name,postcode\nSmith,J,M1 1AE\n", "last_name", "initial:first_name", "postcode")
	for _, r := range []Rules{
		{Lists: []*List{list}, PostcodeColumn: "postcode", Required: []string{"postcode"}},
		{Drop: []string{"email"}, Lists: []*List{list}},
	} {
		s := New(r, io.Discard)
		s.Write(data[:head])
		body := data[head:]
		s.Write(body) // warm up the buffers
		if a := testing.AllocsPerRun(5, func() { s.Write(body) }); a > 10 {
			t.Fatalf("%.0f allocations per 2 MiB", a)
		}
	}
}
