package seal

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/csv"
	"io"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/testkit/testutil"
)

// benchSize is large enough that per-file costs (key derivation, headers)
// vanish in the throughput.
const benchSize = 128 << 20

var benchData = sync.OnceValue(func() []byte { return genCSV(nil, benchSize) })

// stdlibLevel5 is the size compress/flate level 5 gives the benchmark data:
// the yardstick the output size is held to (at most 1.10 times this).
var stdlibLevel5 = sync.OnceValue(func() int64 {
	var n countWriter
	w, _ := flate.NewWriter(&n, 5)
	w.Write(benchData())
	w.Close()
	return int64(n)
})

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// BenchmarkSeal measures sealing throughput in MB/s of CSV and reports the
// output size relative to stdlib flate level 5 on the same data.
func BenchmarkSeal(b *testing.B) {
	data := benchData()
	id := newIdentity(b)
	key, _ := crypt.GenerateAESKey()
	for _, c := range []struct {
		name  string
		outer crypt.EncryptOptions
		level int
	}{
		{"age/level5", crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}}, 5},
		{"age/level1", crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}}, 1},
		{"aes256/level5", crypt.EncryptOptions{Cipher: crypt.CipherAES256, AESKey: key}, 5},
	} {
		b.Run(c.name, func(b *testing.B) {
			var n countWriter
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				n = 0
				if _, err := Seal(context.Background(), &n, bytes.NewReader(data), Options{
					ZipPassword: []byte(testPassword), Level: c.level, Outer: c.outer, Name: "a.csv", Modified: time.Now(),
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/float64(len(data))*100, "%size")
			b.ReportMetric(float64(n)/float64(stdlibLevel5()), "x-stdlib5-size")
		})
	}
}

// BenchmarkStdlibFlate5 is the peer measured in the same run: stdlib
// compress/flate level 5 alone, on one core, with no encryption at all.
func BenchmarkStdlibFlate5(b *testing.B) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w, _ := flate.NewWriter(io.Discard, 5)
		w.Write(data)
		w.Close()
	}
}

// BenchmarkOpen measures opening both layers and writing the CSV, in MB/s
// of CSV.
func BenchmarkOpen(b *testing.B) {
	data := benchData()
	id := newIdentity(b)
	sealed, _ := sealBytes(b, data, crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}})
	ids := crypt.Identities{Age: []age.Identity{id}}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		o, err := Open(bytes.NewReader(sealed), int64(len(sealed)), ids, []byte(testPassword))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := o.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// dialectData is the UTF-8 comma CSV of BenchmarkSealDialect, smaller than
// benchData so that many alternating runs fit on a busy machine.
var dialectData = sync.OnceValue(func() []byte { return genCSV(nil, 32<<20) })

// excelData is dialectData as a German Excel would save it: Windows-1252,
// semicolon-separated, CRLF (a character outside Windows-1252 becomes the
// encoder's replacement).
var excelData = sync.OnceValue(func() []byte {
	recs, err := csv.NewReader(bytes.NewReader(dialectData())).ReadAll()
	if err != nil {
		panic(err)
	}
	var text bytes.Buffer
	w := csv.NewWriter(&text)
	w.Comma, w.UseCRLF = ';', true
	if err := w.WriteAll(recs); err != nil {
		panic(err)
	}
	b, err := encoding.ReplaceUnsupported(charmap.Windows1252.NewEncoder()).Bytes(text.Bytes())
	if err != nil {
		panic(err)
	}
	return b
})

// BenchmarkSealDialect compares sealing the canonical UTF-8 comma CSV
// with sealing the same records from a Windows-1252 semicolon export, in
// MB/s of input (age, level 5).
func BenchmarkSealDialect(b *testing.B) {
	id := newIdentity(b)
	for _, c := range []struct {
		name     string
		data     func() []byte
		encoding string
	}{
		{"utf-8-comma", dialectData, ""},
		{"windows-1252-semicolon", excelData, "windows-1252"},
	} {
		b.Run(c.name, func(b *testing.B) {
			data := c.data()
			b.SetBytes(int64(len(data)))
			cpu := testutil.CPUTime()
			defer func() {
				// MB per CPU-second: what sealing costs, steadier than
				// MB/s when other work shares the machine.
				b.ReportMetric(float64(len(data))*float64(b.N)/1e6/(testutil.CPUTime()-cpu).Seconds(), "MB/cpu-s")
			}()
			for b.Loop() {
				if _, err := Seal(context.Background(), io.Discard, bytes.NewReader(data), Options{
					ZipPassword: []byte(testPassword), Level: 5, Name: "a.csv", Modified: time.Now(), Encoding: c.encoding,
					Outer: crypt.EncryptOptions{Recipients: []age.Recipient{id.Recipient()}},
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
