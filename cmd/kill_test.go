package cmd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
)

// A killPoint is where a kill test kills xfer with SIGKILL: the moment a
// gate in front of the server trips (see gate), or, with share, the moment
// the spool holds that much while the gate holds the run at its next
// request.
// Either way the run is still going when it is killed, at the point the
// test names, however fast or slow the machine: no kill depends on how
// long an earlier run took.
type killPoint struct {
	name string
	// gate makes the point's gate for an object of size bytes.
	gate func(size int64) *gate
	// share, when not 0, kills once the spool (send) holds that share of
	// the sealed object; the gate holds the run at its first part.
	share float64
	// stored: the server holds every byte of the object when the run is
	// killed, so the re-run uploads none.
	stored bool
	// then is done after the kill, before the re-run.
	then func(t *testing.T, spoolDir string)
}

// killRecord is what became of one kill point.
type killRecord struct {
	point string
	phase string // what the run was doing when killed, from its files
	rerun string // what the re-run did
}

// killAt runs xfer with args through g, kills it with SIGKILL once g has
// tripped or, when until is not nil, once until (polled) reports true, and
// drops what g holds, leaving it open for the re-run (which must go the
// same way: the spool's name depends on the endpoint). phase names what
// the run is doing just before the kill. A run that ends before its kill
// fails the test: every point holds the run at the gate, so none may.
func killAt(t *testing.T, env, args []string, g *gate, until func() bool, phase func(pid int) string) string {
	t.Helper()
	c, out, exited := startXfer(t, env, args)
	defer g.Drop()
	tripped := g.Tripped
	if until != nil {
		tripped = nil // until says
	}
	poll := time.NewTicker(2 * time.Millisecond) // looking at the spool and journal, which the run is writing
	defer poll.Stop()
	hung := time.NewTimer(2 * time.Minute) // a failure, not a kill moment: no run gets near it
	defer hung.Stop()
wait:
	for {
		select {
		case err := <-exited:
			t.Errorf("xfer %s ended (%v) before its kill\n%s", args[0], err, out.String())
			return "ended"
		case <-tripped:
			break wait
		case <-poll.C:
			if until != nil && until() {
				break wait
			}
		case <-hung.C:
			c.Process.Kill()
			<-exited
			t.Fatalf("xfer %s neither reached its kill point nor ended in two minutes\n%s", args[0], out.String())
		}
	}
	p := phase(c.Process.Pid)
	c.Process.Kill()
	if err := <-exited; err == nil {
		t.Errorf("xfer %s ended by itself while held at the gate\n%s", args[0], out.String())
		return "ended"
	}
	return p
}

func logKills(t *testing.T, what string, recs []killRecord) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s kill points:\n  #  %-54s  %-16s  re-run\n", what, "point", "phase")
	ended := 0
	for i, r := range recs {
		fmt.Fprintf(&b, "  %2d  %-54s  %-16s  %s\n", i+1, r.point, r.phase, r.rerun)
		if r.phase == "ended" {
			ended++
		}
	}
	fmt.Fprintf(&b, "  %d of %d runs ended before their kill", ended, len(recs))
	t.Log(b.String())
}

// sentEvent is the sent event of a send with --json.
type sentEvent struct {
	Bytes        int64
	ResumedBytes int64 `json:"resumed_bytes"`
	Parts        int
	Already      bool
}

// uploaded is how many bytes the run that printed e uploaded.
func (e sentEvent) uploaded() int64 {
	if e.Already {
		return 0
	}
	return e.Bytes - e.ResumedBytes
}

// sendKillPoints are the points of a send whose sealed object is one part
// (a part size above its size): sealing, creating the upload, sending the
// part, completing, and after completing.
func sendKillPoints() []killPoint {
	// held holds the first request hold matches, once share of its body
	// (a share of the object) has reached the server.
	held := func(hold func(*http.Request) bool, share float64) func(int64) *gate {
		return func(size int64) *gate { return &gate{hold: hold, holdAfter: int64(share * float64(size))} }
	}
	answerHeld := func(trip func(*http.Response) bool) func(int64) *gate {
		return func(int64) *gate { return &gate{trip: trip, holdAnswer: true} }
	}
	first := func(*http.Request) bool { return true }
	return []killPoint{
		{name: "starting: its first request held", gate: held(first, 0)},
		{name: "sealing: a tenth of the spool written", gate: held(isPartRequest, 0), share: 0.1},
		{name: "sealing: half of the spool written", gate: held(isPartRequest, 0), share: 0.5},
		{name: "sealing: nine tenths of the spool written", gate: held(isPartRequest, 0), share: 0.9},
		{name: "creating: the create not yet at the server", gate: held(isCreateRequest, 0)},
		{name: "creating: the upload started, its answer held", gate: answerHeld(isUploadCreated)},
		{name: "uploading: the part held before the server", gate: held(isPartRequest, 0)},
		{name: "uploading: a tenth of the part through", gate: held(isPartRequest, 0.1)},
		{name: "uploading: nine tenths of the part through", gate: held(isPartRequest, 0.9)},
		{name: "uploading: the part stored, its answer held", gate: answerHeld(isPartUpload), stored: true},
		{name: "completing: the completion not yet at the server", gate: held(isCompleteRequest, 0), stored: true},
		{name: "completing: the object complete, its answer held", gate: answerHeld(isCompleted), stored: true},
		{name: "cleaning up: the object complete, the spool removed", gate: answerHeld(isCompleted), stored: true,
			// What a kill after the spool and journal went leaves: the
			// object's xfer-source tells the re-run it was this file.
			then: func(t *testing.T, spoolDir string) {
				if err := os.RemoveAll(spoolDir); err != nil {
					t.Fatal(err)
				}
			}},
	}
}

// TestSendSurvivesKillAnywhere kills `xfer send` with SIGKILL at each of
// sendKillPoints, each time runs the same command again, and checks that
// it completes uploading only what the server did not have, with an
// object that opens to the original CSV, no unfinished upload, and
// nothing left in the spool directory or beside the CSV.
func TestSendSurvivesKillAnywhere(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	// Small, because -race seals at a few MB/s: 3 MiB of CSV seal into
	// one part of about 800 KiB; TestSendResumesAfterKill covers resuming
	// several parts.
	csvPath, want := ft.newCSV(t, "a.csv", 3<<20, 7)
	// Each run has its own cache, so that two run at once.
	envFor := func(endpoint string, i int) ([]string, string) {
		cache := filepath.Join(ft.dir, fmt.Sprintf("cache%02d", i))
		return append(sendEnv(ft.dir, endpoint, srv), "XDG_CACHE_HOME="+cache), filepath.Join(cache, "xfer", "spool")
	}
	args := func(name string) []string {
		return ft.sendArgs(csvPath, "--as", name, "--json", "--part-size", "5MiB")
	}
	// An uninterrupted run: the size of the sealed object, which the
	// sealing points are shares of.
	var whole sentEvent
	e, _ := envFor(srv.Endpoint, 0)
	runForEvent(t, e, args("whole.csv"), "sent", &whole)
	ft.checkObject(t, "whole.csv.zip.age", want)
	if whole.Parts != 1 || whole.uploaded() != whole.Bytes {
		t.Fatalf("the uninterrupted send: %+v, want one part, all of it uploaded", whole)
	}

	points := sendKillPoints()
	recs := make([]killRecord, len(points))
	t.Run("kill", func(t *testing.T) {
		for i, p := range points {
			t.Run(fmt.Sprintf("%02d", i+1), func(t *testing.T) {
				t.Parallel()
				name := fmt.Sprintf("k%02d.csv", i+1)
				g := startGate(t, srv, p.gate(whole.Bytes))
				e, spoolDir := envFor(g.URL, i+1)
				var until func() bool
				if p.share > 0 {
					until = func() bool { return g.hasTripped() || spoolBytes(spoolDir) >= int64(p.share*float64(whole.Bytes)) }
				}
				recs[i] = killRecord{point: p.name}
				recs[i].phase = killAt(t, e, args(name), g, until, func(int) string { return sendPhase(spoolDir) })
				if p.then != nil {
					p.then(t, spoolDir)
				}
				var sent sentEvent
				out := runForEvent(t, e, args(name), "sent", &sent)
				recs[i].rerun = fmt.Sprintf("uploaded %d of %d bytes", sent.uploaded(), sent.Bytes)
				if sent.Already {
					recs[i].rerun += ", already sent"
				}
				wantUp := sent.Bytes
				if p.stored {
					wantUp = 0
				}
				// (The sealed size differs by a few bytes from run to run:
				// the manifest's times compress differently.)
				if sent.Bytes == 0 || sent.uploaded() != wantUp {
					t.Errorf("killed at %q (%s); the re-run uploaded %d of %d bytes, want %d\n%s",
						p.name, recs[i].phase, sent.uploaded(), sent.Bytes, wantUp, out)
				}
				ft.checkObject(t, name+".zip.age", want)
				checkNoLeftovers(t, spoolDir)
				checkNoLeftovers(t, ft.dir)
			})
		}
	})
	logKills(t, "send", recs)
}

// spoolBytes is the size of the one spool in spoolDir (0 while there is
// none).
func spoolBytes(spoolDir string) int64 {
	spools, _ := filepath.Glob(filepath.Join(spoolDir, "*.spool"))
	if len(spools) != 1 {
		return 0
	}
	fi, err := os.Stat(spools[0])
	if err != nil {
		return 0
	}
	return fi.Size()
}

// sendPhase names what a send using spoolDir is doing, from its journal.
func sendPhase(spoolDir string) string {
	journals, _ := filepath.Glob(filepath.Join(spoolDir, "*.journal"))
	spools, _ := filepath.Glob(filepath.Join(spoolDir, "*.spool"))
	if len(journals) == 0 {
		if len(spools) == 0 {
			return "starting"
		}
		return "completing"
	}
	var j struct {
		Sealed   bool
		UploadID string `json:"upload_id"`
	}
	b, _ := os.ReadFile(journals[0])
	json.Unmarshal(b, &j)
	switch {
	case len(spools) == 0:
		return "completing"
	case !j.Sealed && j.UploadID == "":
		return "sealing"
	case !j.Sealed:
		return "sealing+upload"
	}
	return "uploading"
}

// TestPullSurvivesKillAnywhere kills `xfer pull` with SIGKILL while it
// fetches (decrypting and writing the CSV as the bytes come) and once the
// CSV is in place, each time runs the same command again, and checks
// that the CSV is the original byte for byte, with no temporary file
// beside it and the download spool gone.
func TestPullSurvivesKillAnywhere(t *testing.T) {
	srv := s3test.StartMinIO(t, s3test.MinIOOptions{})
	ft := newFaultTarget(t, srv)
	csvPath, want := ft.newCSV(t, "a.csv", 4<<20, 8)
	if out, err := xferCmd(sendEnv(ft.dir, srv.Endpoint, srv), ft.sendArgs(csvPath)...).CombinedOutput(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	info, err := ft.store.Head(t.Context(), ft.prefix+"a.csv.zip.age")
	if err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(ft.dir, "id.txt")
	if err := os.WriteFile(idPath, []byte(ft.id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	isObjectGet := func(r *http.Response) bool {
		return r.Request.Method == http.MethodGet && strings.HasSuffix(r.Request.URL.Path, "/a.csv.zip.age") &&
			(r.StatusCode == http.StatusOK || r.StatusCode == http.StatusPartialContent)
	}
	receipt := exchange.ReceiptKey(ft.prefix + "a.csv.zip.age")
	isReceiptPut := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+receipt)
	}
	fetched := func(share float64) func(int64) *gate {
		return func(size int64) *gate { return &gate{trip: isObjectGet, holdAfter: int64(share * float64(size))} }
	}
	points := []killPoint{
		{name: "fetching: the object's answer held", gate: func(int64) *gate { return &gate{trip: isObjectGet, holdAnswer: true} }},
		{name: "fetching: a tenth of the object through", gate: fetched(0.1)},
		{name: "fetching: half of the object through", gate: fetched(0.5)},
		{name: "fetching: nine tenths of the object through", gate: fetched(0.9)},
		{name: "recording: the CSV in place, the receipt held", gate: func(int64) *gate { return &gate{hold: isReceiptPut} }},
	}
	pull := func(endpoint string, i int) (args []string, e []string, out, spoolDir string) {
		dir := filepath.Join(ft.dir, fmt.Sprintf("run%02d", i))
		out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
		e = append(sendEnv(ft.dir, endpoint, srv), "XDG_CACHE_HOME="+cache)
		return []string{"pull", "--no-progress", "a.csv.zip.age", "-i", idPath, "-d", out}, e, out, filepath.Join(cache, "xfer", "spool")
	}
	recs := make([]killRecord, len(points))
	t.Run("kill", func(t *testing.T) {
		for i, p := range points {
			t.Run(fmt.Sprintf("%02d", i+1), func(t *testing.T) {
				t.Parallel()
				g := startGate(t, srv, p.gate(info.Size))
				args, e, out, spoolDir := pull(g.URL, i+1)
				recs[i] = killRecord{point: p.name}
				recs[i].phase = killAt(t, e, args, g, nil, func(pid int) string { return pullPhase(out, spoolDir, pid) })
				res, err := xferCmd(e, args...).CombinedOutput()
				switch {
				case err != nil:
					t.Fatalf("killed at %q (%s); re-run: %v\n%s", p.name, recs[i].phase, err, res)
				case strings.Contains(string(res), "already holds"):
					// Killed after the CSV was in place and before the
					// pull was recorded: the re-run recognises it from the
					// manifest.
					recs[i].rerun = "CSV already there"
				default:
					recs[i].rerun = "pulled"
				}
				if got := fileSum(t, filepath.Join(out, "a.csv")); got != want {
					t.Errorf("%s: the pulled CSV differs from the original", out)
				}
				checkNoLeftovers(t, out)
				checkNoLeftovers(t, spoolDir)
			})
		}
	})
	logKills(t, "pull", recs)
}

// pullPhase names what a pull (process pid) into out using spoolDir is
// doing. Its CSV being written is a file without a name on Linux
// (O_TMPFILE), seen only among the process's open files.
func pullPhase(out, spoolDir string, pid int) string {
	if writingInto(pid, out) {
		return "writing"
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if e.Name() == "a.csv" {
			return "finishing"
		}
	}
	if spools, _ := filepath.Glob(filepath.Join(spoolDir, "*.fetch")); len(spools) > 0 {
		return "fetching"
	}
	return "starting"
}
