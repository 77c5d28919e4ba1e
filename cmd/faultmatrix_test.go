package cmd

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"

	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// The network fault matrix of issue 6: xfer send and xfer pull through a
// toxiproxy in front of MinIO, under added latency, a bandwidth cap,
// connections cut in the middle of a part, a server that stops answering,
// and a server restarted mid-transfer. Every row ends with the file
// complete and byte-identical and nothing left behind, or with exit 5 and
// the state kept, from which a re-run (with the fault gone) completes.
// docs/reliability.md shows the table it prints.

// faultRow is one scenario in one direction.
type faultRow struct {
	scenario string
	send     bool // upload (send) or download (pull)
	// toxics are in place from the start; {stream} in them becomes the
	// direction the data flows in ("upstream" for send).
	toxics []string
	// Once at bytes have moved (reached the server on a send, xfer on a
	// pull), fault applies the fault and returns what removes it.
	at    int64
	fault func(t *testing.T, l *faultLink, stream string) (heal func())
	// untilCut removes it as soon as xfer saw a connection cut (at most
	// after faultCutLimit); otherwise it stays for the rest of the first
	// run.
	untilCut bool
	expect   faultExpect
	// stall is the run's XFER_STALL_TIMEOUT, when not the default.
	stall string
	// restarts says the fault restarts the server: the row runs on a
	// server of its own.
	restarts bool
}

type faultExpect int

const (
	expectComplete    faultExpect = iota // the first run completes
	expectInterrupted                    // exit 5, state kept, the re-run completes
	expectEither                         // either of the two
)

func (e faultExpect) String() string {
	return [...]string{"completes", "exit 5, state kept; re-run completes", "completes, or exit 5 and re-run completes"}[e]
}

// faultRunLimit is how long one run of xfer may take before the test
// calls it hung and kills it: far more than any row needs.
const faultRunLimit = 4 * time.Minute

// faultCutLimit bounds how long connections are cut: the first cut ends
// the fault, so that it costs a request one or two of its attempts, not
// all.
const faultCutLimit = 5 * time.Second

// The transfer is capped at this rate (KiB/s per connection) in the rows
// whose fault must hit part way, so that it does.
const faultCapKiB = 2048

func capToxic(rateKiB int) string {
	return `{"name":"cap","type":"bandwidth","stream":"{stream}","attributes":{"rate":` + itoa(rateKiB) + `}}`
}

var faultRows = func() []faultRow {
	var rows, restarts []faultRow
	for _, send := range []bool{true, false} {
		rows = append(rows,
			faultRow{scenario: "latency 100ms ±20ms each way", send: send, toxics: []string{
				`{"name":"lat-up","type":"latency","stream":"upstream","attributes":{"latency":100,"jitter":20}}`,
				`{"name":"lat-down","type":"latency","stream":"downstream","attributes":{"latency":100,"jitter":20}}`,
			}},
			faultRow{scenario: "bandwidth 1 MiB/s per connection", send: send, toxics: []string{capToxic(1024)}},
			faultRow{scenario: "connections cut mid-part", send: send, toxics: []string{capToxic(faultCapKiB)},
				at: 2 << 20, untilCut: true, fault: cutConnections},
			faultRow{scenario: "server stops answering", send: send, toxics: []string{capToxic(2 * faultCapKiB)},
				at: 6 << 20, fault: stopAnswering, stall: "3s", expect: expectInterrupted},
		)
		// Last, one after the other: they restart the server all rows share.
		restarts = append(restarts, faultRow{scenario: "server restarted mid-transfer", send: send, toxics: []string{capToxic(faultCapKiB)},
			at: 3 << 20, fault: restartServer, expect: expectEither, restarts: true})
	}
	return append(rows, restarts...)
}()

// cutConnections closes every connection once 256 KiB more have passed on
// it in the transfer's direction (a toxiproxy limit_data toxic).
func cutConnections(t *testing.T, l *faultLink, stream string) func() {
	return l.addToxics(t, `{"name":"cut","type":"limit_data","stream":"`+stream+`","attributes":{"bytes":262144}}`)
}

// stopAnswering lets connections be made but no byte through, either way
// (toxiproxy's timeout toxic with no timeout): to xfer, a server that
// accepts requests and never answers.
func stopAnswering(t *testing.T, l *faultLink, _ string) func() {
	return l.addToxics(t,
		`{"name":"hang-up","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`,
		`{"name":"hang-down","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)
}

// restartServer stops MinIO (SIGTERM) and starts it again on the same port
// and data directory, once xfer has found it down (a connection refused).
func restartServer(t *testing.T, l *faultLink, _ string) func() {
	l.srv.Stop()
	select {
	case <-l.server.refused:
	case <-time.After(time.Minute):
		t.Log("xfer tried nothing in a minute while the server was down")
	}
	l.srv.Start(t)
	return func() {}
}

// faultMatrix is what the rows share: the MinIO, the exchange, the CSV
// and the object the pull rows fetch.
type faultMatrix struct {
	ft     *faultTarget
	csv    string
	want   [32]byte
	idPath string
}

// faultLink is one row's way to the server: xfer → client relay →
// toxiproxy → server relay → MinIO. The relays count what passes them:
// what reached the server (upload progress), what reached xfer (download
// progress; toxiproxy reads ahead of it), and the connections, and those
// closed from the server's side, that xfer saw.
type faultLink struct {
	srv            *s3test.Server
	client, server *countingRelay
	proxy          *toxiproxy.Proxy
	endpoint       string // the client relay's
}

func newFaultLink(t *testing.T, srv *s3test.Server) *faultLink {
	t.Helper()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	l := &faultLink{srv: srv, server: startCountingRelay(t, u.Host)}
	l.proxy = toxiproxyTo(t, l.server.addr)
	l.client = startCountingRelay(t, l.proxy.Listen)
	l.endpoint = "http://" + l.client.addr
	return l
}

func (l *faultLink) addToxics(t *testing.T, toxics ...string) (remove func()) {
	t.Helper()
	var names []string
	for _, j := range toxics {
		w, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(j))
		if err != nil {
			t.Fatalf("toxic %s: %v", j, err)
		}
		names = append(names, w.Name)
	}
	return func() {
		for _, n := range names {
			if err := l.proxy.Toxics.RemoveToxic(context.Background(), n); err != nil {
				t.Errorf("removing toxic %s: %v", n, err)
			}
		}
	}
}

// faultResult is one line of the table.
type faultResult struct {
	scenario, direction, outcome, expected string
	ok                                     bool
	took                                   time.Duration
}

// TestFaultMatrix runs the rows at once: those that restart the server
// one after the other on a server of their own, the others each beside
// them on a shared one. Then it prints the table.
func TestFaultMatrix(t *testing.T) {
	start := time.Now()
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	m := &faultMatrix{ft: newFaultTarget(t, srv)}
	restarted := *m.ft
	restarted.srv = s3test.StartMinIO(t, s3test.MinIOOptions{})
	restarted.store = xferTestStore(t, restarted.srv)
	// Barely compressible, so that 13 MiB of CSV seal into three 5 MiB
	// parts (address-like CSV shrinks fourfold, and -race seals slowly).
	m.csv = filepath.Join(m.ft.dir, "a.csv")
	m.want = genNoiseCSV(t, m.csv, 13<<20, 6)
	m.idPath = filepath.Join(m.ft.dir, "id.txt")
	if err := os.WriteFile(m.idPath, []byte(m.ft.id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The object the pull rows fetch, sent straight to each server.
	var sent struct{ Bytes, Parts int64 }
	for _, s := range []*s3test.Server{srv, restarted.srv} {
		runForEvent(t, sendEnv(m.ft.dir, s.Endpoint, s), m.sendArgs("down.csv"), "sent", &sent)
	}
	if sent.Parts < 3 {
		t.Fatalf("the sealed file has %d parts (%d bytes), want at least 3", sent.Parts, sent.Bytes)
	}
	t.Logf("setup %v: object of %d bytes in %d parts", time.Since(start).Round(time.Second), sent.Bytes, sent.Parts)

	results := make([]faultResult, len(faultRows))
	row := func(i int, r faultRow) {
		dir := map[bool]string{true: "send", false: "pull"}[r.send]
		res := &results[i]
		*res = faultResult{scenario: r.scenario, direction: dir, expected: r.expect.String(), outcome: "test failed"}
		// t.Run from several goroutines rather than t.Parallel, which
		// -parallel (the number of CPUs) would hold back: the rows mostly
		// wait on the network.
		t.Run(fmt.Sprintf("%02d-%s-%s", i, dir, strings.Fields(r.scenario)[0]), func(t *testing.T) {
			began := time.Now()
			defer func() { res.took, res.ok = time.Since(began), !t.Failed() }()
			ft := m.ft
			if r.restarts {
				ft = &restarted
			}
			res.outcome = m.run(t, ft, i, r)
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, r := range faultRows {
			if r.restarts {
				row(i, r)
			}
		}
	})
	for i, r := range faultRows {
		if !r.restarts {
			wg.Go(func() { row(i, r) })
		}
	}
	wg.Wait()
	table := faultTable(results)
	t.Logf("fault matrix, %v in all:\n%s", time.Since(start).Round(time.Second), table)
	if p := os.Getenv("XFER_FAULT_TABLE"); p != "" {
		if err := os.WriteFile(p, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func (m *faultMatrix) sendArgs(name string) []string {
	return m.ft.sendArgs(m.csv, "--as", name, "--json", "--level", "1", "--part-size", "5MiB", "--concurrency", "2")
}

// run runs one row and returns its outcome in words.
func (m *faultMatrix) run(t *testing.T, ft *faultTarget, i int, r faultRow) string {
	stream := "downstream"
	if r.send {
		stream = "upstream"
	}
	l := newFaultLink(t, ft.srv)
	for _, j := range r.toxics {
		l.addToxics(t, strings.ReplaceAll(j, "{stream}", stream))
	}
	rowDir := filepath.Join(m.ft.dir, fmt.Sprintf("row%02d", i))
	cache, out := filepath.Join(rowDir, "cache"), filepath.Join(rowDir, "out")
	spoolDir := spoolDirOf(rowDir)
	env := append(sendEnv(m.ft.dir, l.endpoint, ft.srv), "XDG_CACHE_HOME="+cache)
	if r.stall != "" {
		env = append(env, "XFER_STALL_TIMEOUT="+r.stall)
	}
	name := fmt.Sprintf("row%02d.csv", i)
	args := m.sendArgs(name)
	if !r.send {
		args = []string{"pull", "--json", "down.csv.zip.age", "-i", m.idPath, "-d", out}
	}
	moved := func() int64 {
		if r.send {
			return l.server.up.Load()
		}
		return l.client.down.Load()
	}

	conns := func() int64 { return l.client.conns.Load() }
	c, output, exited := startXfer(t, env, args)
	hung := time.After(faultRunLimit)
	var heal func()
	var fired, healed time.Time
	var applied time.Duration // how long applying the fault took
	var err error
	tick := time.NewTicker(20 * time.Millisecond)
wait:
	for {
		select {
		case err = <-exited:
			break wait
		case <-hung:
			c.Process.Kill()
			<-exited
			t.Fatalf("xfer still running after %v: hung\n%s", faultRunLimit, output)
		case <-tick.C:
		}
		switch {
		case r.fault != nil && fired.IsZero() && moved() >= r.at:
			fired = time.Now()
			heal = r.fault(t, l, stream)
			applied = time.Since(fired)
		case r.untilCut && !fired.IsZero() && healed.IsZero() && (l.client.cut.Load() > 0 || time.Since(fired) >= faultCutLimit):
			heal()
			healed = time.Now()
		}
	}
	tick.Stop()
	if heal != nil && healed.IsZero() {
		heal()
	}
	code := exitCodeOf(err)
	firstMoved, firstConns, firstCut := moved(), conns(), l.client.cut.Load()
	if r.untilCut && firstCut == 0 {
		t.Errorf("no connection was cut while the fault was in place")
	}
	if r.fault != nil && fired.IsZero() {
		t.Fatalf("the run ended (exit %d) before %d bytes had moved: the fault never hit\n%s", code, r.at, output)
	}
	outcome := fmt.Sprintf("exit %d", code)
	switch {
	case code == 0 && r.expect != expectInterrupted:
		outcome = "completed"
	case code == exitInterrupted && r.expect != expectComplete:
		outcome += fmt.Sprintf(" %v after the fault", time.Since(fired).Round(time.Second))
		m.checkStateKept(t, r.send, spoolDir, out)
		// The fault is gone (healed above): the same command finishes.
		// With the default stall timeout: the row's short one makes the
		// fault show soon, and would make a loaded machine's pauses
		// fail the re-run.
		renv := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "XFER_STALL_TIMEOUT=") })
		rc, rout, rexited := startXfer(t, renv, args)
		var rerr error
		select {
		case rerr = <-rexited:
		case <-time.After(faultRunLimit):
			rc.Process.Kill()
			<-rexited
			t.Fatalf("re-run still running after %v: hung\n%s", faultRunLimit, rout)
		}
		if rerr != nil {
			t.Fatalf("re-run: exit %d\n%s", exitCodeOf(rerr), rout)
		}
		outcome += fmt.Sprintf("; re-run completed, %s resumed", humanBytes(resumedBytes(rout.String())))
	default:
		t.Fatalf("exit %d, want: %s\n%s", code, r.expect, output)
	}
	if r.send {
		ft.checkObject(t, name+".zip.age", m.want)
	} else if csvs, _ := filepath.Glob(filepath.Join(out, "*.csv")); len(csvs) != 1 {
		t.Errorf("pull wrote %v, want one CSV", csvs)
	} else if fileSum(t, csvs[0]) != m.want {
		t.Errorf("the pulled CSV differs from the original")
	}
	checkNoLeftovers(t, spoolDir)
	checkNoLeftovers(t, out)
	checkNoLeftovers(t, m.ft.dir)
	// What crossed the wire in the first run, for a fault that hit.
	if r.fault != nil {
		verb := "xfer received"
		if r.send {
			verb = "server received"
		}
		outcome += fmt.Sprintf(" (first run: %s %s; %d connections, %d closed by the far end", verb, humanBytes(firstMoved), firstConns, firstCut)
		if r.restarts {
			outcome += fmt.Sprintf("; server away %v", applied.Round(100*time.Millisecond))
		}
		outcome += ")"
	}
	return outcome
}

// checkStateKept requires what a re-run resumes from after exit 5: the
// journal (with the spool of a send or the partial download of a pull),
// and no CSV, whole or partial, in the output directory of a pull.
func (m *faultMatrix) checkStateKept(t *testing.T, send bool, spoolDir, out string) {
	t.Helper()
	want := []string{"*.journal", "*.spool"}
	if !send {
		want = []string{"*.journal", "*.fetch"}
		if ents, _ := os.ReadDir(out); len(ents) > 0 {
			t.Errorf("pull interrupted, yet %s holds %s", out, ents[0].Name())
		}
	}
	for _, p := range want {
		if got, _ := filepath.Glob(filepath.Join(spoolDir, p)); len(got) != 1 {
			t.Errorf("exit 5 with no %s kept in %s: %v", p, spoolDir, got)
		}
	}
}

// resumedBytes is resumed_bytes of the last sent or pulled event.
func resumedBytes(ndjson string) int64 {
	var n int64
	for _, line := range strings.Split(ndjson, "\n") {
		var ev struct {
			Event   string
			Resumed int64 `json:"resumed_bytes"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && (ev.Event == "sent" || ev.Event == "pulled") {
			n = ev.Resumed
		}
	}
	return n
}

// faultTable renders the results as a Markdown table.
func faultTable(results []faultResult) string {
	var b strings.Builder
	b.WriteString("| scenario | direction | outcome | expected | result | time |\n|---|---|---|---|---|---|\n")
	for _, r := range results {
		verdict := "FAIL"
		if r.ok {
			verdict = "pass"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.1fs |\n", r.scenario, r.direction, r.outcome, r.expected, verdict, r.took.Seconds())
	}
	return b.String()
}

// genNoiseCSV writes a CSV of about size bytes whose second column is
// random base64 (deflate saves only a quarter of it) and returns its
// SHA-256. It is in the canonical form xfer seals (CRLF), so a round trip
// gives it back byte for byte.
func genNoiseCSV(t *testing.T, path string, size int64, seed uint64) [32]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(seed, seed))
	raw := make([]byte, 48)
	n, _ := w.WriteString("id,ref\r\n")
	for row := 0; int64(n) < size; row++ {
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		k, _ := fmt.Fprintf(w, "%d,%s\r\n", row, base64.RawURLEncoding.EncodeToString(raw))
		n += k
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return fileSum(t, path)
}

// countingRelay forwards TCP connections to a server and counts, as they
// pass, the bytes sent to it (up) and received from it (down), the
// connections, and those the server's side ended first (cut).
type countingRelay struct {
	addr                 string
	up, down, conns, cut atomic.Int64
	// refused gets a signal when a connection finds the server down.
	refused chan struct{}
}

func startCountingRelay(t *testing.T, target string) *countingRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &countingRelay{addr: l.Addr().String(), refused: make(chan struct{}, 1)}
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			open[c] = true
		} else {
			delete(open, c)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					select { // the server is down: the client sees the close
					case r.refused <- struct{}{}:
					default:
					}
					return
				}
				defer s.Close()
				track(c, true)
				track(s, true)
				defer track(c, false)
				defer track(s, false)
				done := make(chan struct{}, 2)
				var first sync.Once
				pipe := func(dst, src net.Conn, n *atomic.Int64, fromServer bool) {
					w := &countWriter{w: dst, n: n}
					io.Copy(w, src)
					// The server's side ended the connection when its
					// stream ended first, or when writing to it failed
					// (a client sending fast hits that before it reads
					// the close).
					first.Do(func() {
						if fromServer || w.err != nil {
							r.cut.Add(1)
						}
					})
					// Either side closing ends the connection both ways.
					dst.Close()
					src.Close()
					done <- struct{}{}
				}
				go pipe(s, c, &r.up, false)
				go pipe(c, s, &r.down, true)
				<-done
				<-done
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return r
}

type countWriter struct {
	w   io.Writer
	n   *atomic.Int64
	err error // the first write error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
