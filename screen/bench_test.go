package screen_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/testkit/testutil"
	"github.com/xfer-dev/xfer/screen"
	"github.com/xfer-dev/xfer/seal"
)

// benchRows is the acceptance size: 1,000,000 rows against 100,000 entries
// (XFER_SCREEN_BENCH_ROWS changes it; the list is always a tenth).
var benchInput = sync.OnceValues(func() ([]byte, []byte) {
	rows := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("XFER_SCREEN_BENCH_ROWS")); err == nil {
		rows = v
	}
	var tb testing.B
	data := screen.GenRows(&tb, rows, 7)
	list, _ := screen.PropertyList(&tb, data, rows/10, 11)
	return data, list
})

// BenchmarkScreen measures screening in MB/s of CSV and compares it with
// sealing the same data in the same run (age, level 5, all cores): each
// screen case reports %seal, its time as a share of the seal time, and
// seal+screen (the screen feeding Seal through a pipe, as send will
// chain them) reports %added, how much longer than the seal alone it takes.
// The -cpu variants compare process CPU time instead of the wall clock,
// which is steadier on a loaded machine; seal compresses on every core, so
// on an idle machine the wall-clock ratios are the ones send sees.
func BenchmarkScreen(b *testing.B) {
	data, list := benchInput()
	key, err := screen.ParseKeySpec(screen.KeyCols)
	if err != nil {
		b.Fatal(err)
	}
	plain, err := screen.ReadList(bytes.NewReader(list), "plain", key)
	if err != nil {
		b.Fatal(err)
	}
	var hf bytes.Buffer
	if _, err := screen.HashList(&hf, bytes.NewReader(list), "list", key); err != nil {
		b.Fatal(err)
	}
	hashed, err := screen.ReadList(&hf, "hashed", key)
	if err != nil {
		b.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	opts := seal.Options{
		ZipPassword: []byte("Corr3ct-Horse-Battery"), Level: 5, Name: "a.csv", Modified: time.Now(),
		Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}},
	}
	sealOnce := func(src io.Reader) {
		if _, err := seal.Seal(context.Background(), io.Discard, src, opts); err != nil {
			b.Fatal(err)
		}
	}
	var sealNs, sealCPU float64
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		cpu := testutil.CPUTime()
		for b.Loop() {
			sealOnce(bytes.NewReader(data))
		}
		sealNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		sealCPU = float64(testutil.CPUTime()-cpu) / float64(b.N)
		b.ReportMetric(sealCPU/1e6, "cpu-ms/op")
	})
	cases := []struct {
		name  string
		rules screen.Rules
	}{
		{"suppress-plain", screen.Rules{Lists: []*screen.List{plain}}},
		{"suppress-hashed", screen.Rules{Lists: []*screen.List{hashed}}},
		{"all-checks", screen.Rules{
			Lists: []*screen.List{hashed}, Required: []string{"customer_id", "postcode"},
			PostcodeColumn: "postcode", Duplicate: screen.Warn, Drop: []string{"phone"},
		}},
	}
	for _, c := range cases {
		b.Run("screen/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			cpu := testutil.CPUTime()
			for b.Loop() {
				screenTo(b, c.rules, io.Discard, data)
			}
			perOp := float64(testutil.CPUTime()-cpu) / float64(b.N)
			b.ReportMetric(perOp/1e6, "cpu-ms/op")
			if sealNs > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/sealNs*100, "%seal")
				b.ReportMetric(perOp/sealCPU*100, "%seal-cpu")
			}
		})
	}
	for _, c := range cases[1:] {
		b.Run("seal+screen/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			cpu := testutil.CPUTime()
			for b.Loop() {
				pr, pw := io.Pipe()
				go func() {
					s := screen.New(c.rules, pw)
					err := writeChunks(s, data)
					if err == nil {
						err = s.Close()
					}
					pw.CloseWithError(err)
				}()
				sealOnce(pr)
			}
			perOp := float64(testutil.CPUTime()-cpu) / float64(b.N)
			b.ReportMetric(perOp/1e6, "cpu-ms/op")
			if sealNs > 0 {
				b.ReportMetric((float64(b.Elapsed().Nanoseconds())/float64(b.N)/sealNs-1)*100, "%added")
				b.ReportMetric((perOp/sealCPU-1)*100, "%added-cpu")
			}
		})
	}
}

func screenTo(b *testing.B, r screen.Rules, w io.Writer, data []byte) {
	s := screen.New(r, w)
	if err := writeChunks(s, data); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// writeChunks writes data in seal's 1 MiB reads.
func writeChunks(w io.Writer, data []byte) error {
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
