// Package storetest is the one test suite every transfer.Store passes: the
// in-memory store and s3store against each real server. It checks every
// method's contract and every error mapping, and where servers differ
// (Caps) it checks the difference is the documented one, so a server that
// changes behaviour fails the suite instead of going unnoticed.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/xfer-dev/xfer/transfer"
)

// Harness says how to make the stores under test, and what the server
// behind them supports.
type Harness struct {
	// New returns a Store on a bucket without versioning. Stores may share
	// a bucket: every test works under its own random prefix.
	New func(t *testing.T) transfer.Store
	// NewVersioned returns a Store on a bucket with versioning enabled.
	NewVersioned func(t *testing.T) transfer.Store
	// NewMissingBucket returns a Store on a bucket that does not exist.
	NewMissingBucket func(t *testing.T) transfer.Store
	// NewDenied returns a Store whose credentials the server refuses, and
	// a function counting the requests (HTTP attempts) it has sent.
	NewDenied func(t *testing.T) (transfer.Store, func() int)

	Caps Caps

	// Quick skips the listing of more than a page of objects (slow to set
	// up): for variants of a store already run in full, such as the same
	// server with another server-side encryption.
	Quick bool
}

// Caps records where a server departs from S3.
type Caps struct {
	// ConditionalWrites: If-None-Match: * is honoured on CompleteUpload
	// and Put. Without it an existing object is silently replaced.
	ConditionalWrites bool
	// PartChecksums: ListParts returns each part's SHA-256.
	PartChecksums bool
	// ConditionalReplace: If-Match is honoured on Put (PutOptions.IfMatch).
	// Without it the object is replaced whatever its ETag.
	ConditionalReplace bool
	// ControlKeys: listings return keys holding C0 control characters
	// exactly (the server honours encoding-type=url). Without it such
	// keys come back with U+FFFD in their place, but the listing works.
	ControlKeys bool
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"MultipartRoundTrip", testMultipartRoundTrip},
		{"UploadPartRewindsAndReplaces", testUploadPartReplace},
		{"ChecksumMismatch", testChecksumMismatch},
		{"NoSuchUpload", testNoSuchUpload},
		{"ConditionalComplete", testConditionalComplete},
		{"Put", testPut},
		{"PutIfMatch", testPutIfMatch},
		{"GetTagged", testGetTagged},
		{"PutRaces", testPutRaces},
		{"ListUploads", testListUploads},
		{"NotFound", testNotFound},
		{"ListPaginates", testListPaginates},
		{"ListStopsOnError", testListStops},
		{"ListAfter", testListAfter},
		{"ListHostileKeys", testListHostileKeys},
		{"UnversionedListVersions", testUnversionedVersions},
		{"Versions", testVersions},
		{"DeleteVersions", testDeleteVersions},
		{"UnversionedDeleteVersions", testUnversionedDeleteVersions},
		{"MissingBucket", testMissingBucket},
		{"AccessDenied", testAccessDenied},
		{"Cancelled", testCancelled},
		{"Upload", testUpload},
		{"UploadResume", testUploadResume},
		{"UploadGrowingSpool", testUploadGrowing},
		{"Download", testDownload},
		{"DownloadResume", testDownloadResume},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// prefix returns a fresh key prefix for one test.
func prefix(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	name := strings.ReplaceAll(t.Name(), "/", "-")
	return "storetest/" + name + "-" + hex.EncodeToString(b) + "/"
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Checksum is the base64 SHA-256 of b, as UploadPart wants it.
func Checksum(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// SealedSpool writes data to a new spool at path, for the file with the
// given fingerprint, and seals it, ready for transfer.Upload.
func SealedSpool(t testing.TB, path, fingerprint string, data []byte) *transfer.Spool {
	t.Helper()
	sp, err := transfer.CreateSpool(path, fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	return sp
}

func uploadPart(t *testing.T, ctx context.Context, s transfer.Store, key, id string, n int, data []byte) transfer.Part {
	t.Helper()
	p, err := s.UploadPart(ctx, key, id, n, bytes.NewReader(data), int64(len(data)), Checksum(data))
	if err != nil {
		t.Fatalf("UploadPart %d: %v", n, err)
	}
	if p.Number != n || p.Size != int64(len(data)) || p.ETag == "" {
		t.Fatalf("UploadPart %d returned %+v", n, p)
	}
	return p
}

func readAll(t *testing.T, ctx context.Context, s transfer.Store, key string, off, n int64) []byte {
	t.Helper()
	rc, err := s.Get(ctx, key, off, n)
	if err != nil {
		t.Fatalf("Get %s [%d,+%d): %v", key, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s [%d,+%d): %v", key, off, n, err)
	}
	return b
}

func wantErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got error %v, want %v", what, err, kind)
	}
}

func testMultipartRoundTrip(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "a.csv.zip.age"
	meta := map[string]string{"xfer-format": "1", "xfer-cipher": "age"}
	id, err := s.CreateUpload(ctx, key, transfer.CreateOptions{Metadata: meta, ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	p1 := randBytes(transfer.MinPartSize)
	p2 := randBytes(12345)
	// Upload out of order, as concurrent uploaders do.
	part2 := uploadPart(t, ctx, s, key, id, 2, p2)
	part1 := uploadPart(t, ctx, s, key, id, 1, p1)

	listed, err := s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(listed) != 2 {
		t.Fatalf("ListParts: %d parts, want 2: %+v", len(listed), listed)
	}
	for i, want := range []transfer.Part{part1, part2} {
		got := listed[i]
		if got.Number != want.Number || got.Size != want.Size || strings.Trim(got.ETag, `"`) != strings.Trim(want.ETag, `"`) {
			t.Errorf("ListParts[%d] = %+v, want %+v", i, got, want)
		}
		if h.Caps.PartChecksums && got.Checksum != want.Checksum {
			t.Errorf("ListParts[%d] checksum %q, want %q", i, got.Checksum, want.Checksum)
		}
	}

	found := false
	if err := s.ListUploads(ctx, key, func(u transfer.UploadInfo) error {
		found = found || u.UploadID == id && u.Key == key
		return nil
	}); err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	if !found {
		t.Errorf("ListUploads(%q) did not report upload %s", key, id)
	}

	info, err := s.CompleteUpload(ctx, key, id, []transfer.Part{part1, part2}, transfer.CompleteOptions{})
	if err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	if info.ETag == "" {
		t.Errorf("CompleteUpload returned no ETag: %+v", info)
	}

	want := append(bytes.Clone(p1), p2...)
	head, err := s.Head(ctx, key)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if head.Size != int64(len(want)) || head.ETag == "" || head.LastModified.IsZero() {
		t.Errorf("Head = %+v, want size %d", head, len(want))
	}
	for k, v := range meta {
		if head.Metadata[k] != v {
			t.Errorf("Head metadata[%q] = %q, want %q (all: %v)", k, head.Metadata[k], v, head.Metadata)
		}
	}
	d1, d2 := sha256.Sum256(p1), sha256.Sum256(p2)
	if want := transfer.CompositeChecksum([][]byte{d1[:], d2[:]}); head.Checksum != want {
		t.Errorf("Head checksum %q, want the composite %q", head.Checksum, want)
	}
	for i, size := range []int64{int64(len(p1)), int64(len(p2))} {
		pi, err := s.HeadPart(ctx, key, i+1)
		if err != nil {
			t.Fatalf("HeadPart %d: %v", i+1, err)
		}
		if pi.Size != size || pi.Parts != 2 || pi.ETag != head.ETag {
			t.Errorf("HeadPart %d = %+v, want size %d of 2 parts, ETag %s", i+1, pi, size, head.ETag)
		}
	}

	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, want) {
		t.Errorf("Get whole object: %d bytes, differ from the %d sent", len(got), len(want))
	}
	off := int64(transfer.MinPartSize - 100)
	if got := readAll(t, ctx, s, key, off, 300); !bytes.Equal(got, want[off:off+300]) {
		t.Errorf("Get range across the part boundary differs")
	}
	if got := readAll(t, ctx, s, key, off, -1); !bytes.Equal(got, want[off:]) {
		t.Errorf("Get to the end differs")
	}
	if got := readAll(t, ctx, s, key, 10, 0); len(got) != 0 {
		t.Errorf("Get of 0 bytes returned %d", len(got))
	}

	n := 0
	if err := s.ListUploads(ctx, key, func(u transfer.UploadInfo) error { n++; return nil }); err != nil {
		t.Fatalf("ListUploads after complete: %v", err)
	}
	if n != 0 {
		t.Errorf("ListUploads after complete: %d uploads left", n)
	}
	// Completing again (a retry after a lost reply) succeeds again or says
	// the upload is gone; either way the object stays as it is.
	_, err = s.CompleteUpload(ctx, key, id, []transfer.Part{part1, part2}, transfer.CompleteOptions{Overwrite: true})
	if err != nil && !errors.Is(err, transfer.ErrNoSuchUpload) {
		t.Errorf("CompleteUpload twice: %v, want nil or ErrNoSuchUpload", err)
	}
	t.Logf("CompleteUpload of a completed upload: %v", err)
	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, want) {
		t.Errorf("object changed by completing twice")
	}
}

func testUploadPartReplace(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "obj"
	id, err := s.CreateUpload(ctx, key, transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.AbortUpload(ctx, key, id)
	// The body starts part way into a file and goes on past the part: the
	// store must send size bytes from the current position, on every try.
	file := randBytes(1000)
	body := bytes.NewReader(file)
	if _, err := body.Seek(100, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, key, id, 1, body, 500, Checksum(file[100:600])); err != nil {
		t.Fatalf("UploadPart of a window of the body: %v", err)
	}
	// Same part number again, other content: replaces it.
	data2 := randBytes(700)
	p := uploadPart(t, ctx, s, key, id, 1, data2)
	parts, err := s.ListParts(ctx, key, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].Size != 700 || strings.Trim(parts[0].ETag, `"`) != strings.Trim(p.ETag, `"`) {
		t.Fatalf("after replacing part 1: %+v", parts)
	}
	if _, err := s.CompleteUpload(ctx, key, id, parts, transfer.CompleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, data2) {
		t.Fatal("object is not the replacing part")
	}
}

func testChecksumMismatch(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "obj"
	id, err := s.CreateUpload(ctx, key, transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.AbortUpload(ctx, key, id)
	data := randBytes(1024)
	_, err = s.UploadPart(ctx, key, id, 1, bytes.NewReader(data), int64(len(data)), Checksum([]byte("something else")))
	wantErr(t, "UploadPart with a wrong checksum", err, transfer.ErrChecksumMismatch)
	if transfer.IsTransient(err) {
		t.Errorf("checksum mismatch is transient: %v", err)
	}
	_, err = s.Put(ctx, key+".put", bytes.NewReader(data), int64(len(data)), transfer.PutOptions{Checksum: Checksum(nil)})
	wantErr(t, "Put with a wrong checksum", err, transfer.ErrChecksumMismatch)
}

func testNoSuchUpload(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "obj"
	id, err := s.CreateUpload(ctx, key, transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(100)
	p := uploadPart(t, ctx, s, key, id, 1, data)
	if err := s.AbortUpload(ctx, key, id); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	if err := s.AbortUpload(ctx, key, id); err != nil {
		t.Errorf("AbortUpload again: %v, want nil (idempotent)", err)
	}
	_, err = s.ListParts(ctx, key, id)
	wantErr(t, "ListParts of an aborted upload", err, transfer.ErrNoSuchUpload)
	if transfer.IsTransient(err) {
		t.Errorf("NoSuchUpload is transient: %v", err)
	}
	_, err = s.UploadPart(ctx, key, id, 2, bytes.NewReader(data), int64(len(data)), Checksum(data))
	wantErr(t, "UploadPart of an aborted upload", err, transfer.ErrNoSuchUpload)
	_, err = s.CompleteUpload(ctx, key, id, []transfer.Part{p}, transfer.CompleteOptions{})
	wantErr(t, "CompleteUpload of an aborted upload", err, transfer.ErrNoSuchUpload)
	if _, err := s.Head(ctx, key); !errors.Is(err, transfer.ErrNotFound) {
		t.Errorf("Head after abort: %v, want ErrNotFound", err)
	}
}

func testConditionalComplete(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "obj"
	old := []byte("the object that is there first")
	if _, err := s.Put(ctx, key, bytes.NewReader(old), int64(len(old)), transfer.PutOptions{}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	id, err := s.CreateUpload(ctx, key, transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(2000)
	p := uploadPart(t, ctx, s, key, id, 1, data)
	_, err = s.CompleteUpload(ctx, key, id, []transfer.Part{p}, transfer.CompleteOptions{})
	if !h.Caps.ConditionalWrites {
		if err != nil {
			t.Fatalf("CompleteUpload: %v (the harness says this server ignores If-None-Match)", err)
		}
		if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, data) {
			t.Fatal("object not replaced")
		}
		t.Logf("%s ignores If-None-Match on CompleteMultipartUpload: the existing object was replaced", s.Bucket())
		return
	}
	wantErr(t, "CompleteUpload over an existing object", err, transfer.ErrPreconditionFailed)
	if transfer.IsTransient(err) {
		t.Errorf("precondition failure is transient: %v", err)
	}
	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, old) {
		t.Fatal("the existing object was changed")
	}
	// The refused upload is still there, to abort or to complete with Overwrite.
	if _, err := s.ListParts(ctx, key, id); err != nil {
		t.Fatalf("ListParts after refused complete: %v", err)
	}
	if _, err := s.CompleteUpload(ctx, key, id, []transfer.Part{p}, transfer.CompleteOptions{Overwrite: true}); err != nil {
		t.Fatalf("CompleteUpload with Overwrite: %v", err)
	}
	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, data) {
		t.Fatal("object not replaced with Overwrite")
	}
}

func testPut(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "receipt.json"
	data := []byte(`{"sent":"a.csv.zip.age"}`)
	body := bytes.NewReader(append([]byte("junk"), data...))
	body.Seek(4, io.SeekStart)
	info, err := s.Put(ctx, key, body, int64(len(data)), transfer.PutOptions{CreateOptions: transfer.CreateOptions{Metadata: map[string]string{"xfer-kind": "receipt"}}})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info.ETag == "" {
		t.Errorf("Put returned no ETag")
	}
	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("Get after Put = %q", got)
	}
	head, err := s.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["xfer-kind"] != "receipt" || head.Size != int64(len(data)) {
		t.Errorf("Head after Put = %+v", head)
	}
	if head.Checksum != Checksum(data) {
		t.Errorf("Head checksum after Put %q, want %q", head.Checksum, Checksum(data))
	}
	if pi, err := s.HeadPart(ctx, key, 1); err != nil || pi.Parts != 1 || pi.Size != int64(len(data)) {
		t.Errorf("HeadPart 1 of a one-piece object = %+v, %v", pi, err)
	}
	other := []byte("other")
	_, err = s.Put(ctx, key, bytes.NewReader(other), int64(len(other)), transfer.PutOptions{})
	if h.Caps.ConditionalWrites {
		wantErr(t, "Put over an existing object", err, transfer.ErrPreconditionFailed)
	} else if err != nil {
		t.Fatalf("Put over an existing object: %v (the harness says this server ignores If-None-Match)", err)
	}
	if _, err := s.Put(ctx, key, bytes.NewReader(other), int64(len(other)), transfer.PutOptions{Overwrite: true}); err != nil {
		t.Fatalf("Put with Overwrite: %v", err)
	}
	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, other) {
		t.Fatalf("Get after overwriting Put = %q", got)
	}
}

// testGetTagged checks that a Get's reader, whole or ranged, names the
// version it reads (transfer.Tagged), and that a replaced object's Get
// names the new one: the downloader relies on it to leave out a HEAD at
// the end of every download.
func testGetTagged(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "tagged"
	etagOf := func(off, n int64) string {
		t.Helper()
		rc, err := s.Get(ctx, key, off, n)
		if err != nil {
			t.Fatalf("Get [%d,+%d): %v", off, n, err)
		}
		defer rc.Close()
		tagged, ok := rc.(transfer.Tagged)
		if !ok {
			t.Fatalf("Get [%d,+%d): the reader, a %T, names no version", off, n, rc)
		}
		return strings.Trim(tagged.ETag(), `"`)
	}
	var etags []string
	for _, data := range [][]byte{randBytes(1000), randBytes(1200)} {
		info, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), transfer.PutOptions{Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Trim(info.ETag, `"`)
		for _, r := range [][2]int64{{0, -1}, {0, 10}, {500, 100}, {990, -1}} {
			if got := etagOf(r[0], r[1]); got != want {
				t.Errorf("Get [%d,+%d) names ETag %q, the object's is %q", r[0], r[1], got, want)
			}
		}
		etags = append(etags, want)
	}
	if etags[0] == etags[1] {
		t.Errorf("two different objects have the same ETag %q", etags[0])
	}
}

func testPutIfMatch(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "claim.json"
	put := func(data, ifMatch string) (transfer.ObjectInfo, error) {
		return s.Put(ctx, key, strings.NewReader(data), int64(len(data)), transfer.PutOptions{IfMatch: ifMatch})
	}
	_, err := put("nothing there yet", `"0123456789abcdef0123456789abcdef"`)
	if !h.Caps.ConditionalReplace {
		if err != nil {
			t.Fatalf("Put If-Match of a missing key: %v (the harness says this server ignores If-Match)", err)
		}
		first, err := s.Head(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := put("replaced anyway", `"0123456789abcdef0123456789abcdef"`); err != nil {
			t.Fatalf("Put If-Match with another ETag: %v", err)
		}
		if got := readAll(t, ctx, s, key, 0, -1); string(got) != "replaced anyway" {
			t.Fatalf("Get = %q", got)
		}
		t.Logf("%s ignores If-Match on PutObject: %s was replaced", s.Bucket(), first.ETag)
		return
	}
	wantErr(t, "Put If-Match of a missing key", err, transfer.ErrPreconditionFailed)
	first, err := put("first", "")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	_, err = put("wrong etag", `"0123456789abcdef0123456789abcdef"`)
	wantErr(t, "Put If-Match with another ETag", err, transfer.ErrPreconditionFailed)
	if transfer.IsTransient(err) {
		t.Errorf("precondition failure is transient: %v", err)
	}
	// Quoted or not, the ETag Put returned names the object.
	second, err := put("second", strings.Trim(first.ETag, `"`))
	if err != nil {
		t.Fatalf("Put If-Match with the current ETag: %v", err)
	}
	if second.ETag == "" || second.ETag == first.ETag {
		t.Errorf("Put If-Match returned ETag %q after %q", second.ETag, first.ETag)
	}
	_, err = put("stale", first.ETag)
	wantErr(t, "Put If-Match with a replaced ETag", err, transfer.ErrPreconditionFailed)
	if got := readAll(t, ctx, s, key, 0, -1); string(got) != "second" {
		t.Fatalf("Get = %q, want the write that held the current ETag", got)
	}
	head, err := s.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Trim(head.ETag, `"`) != strings.Trim(second.ETag, `"`) {
		t.Errorf("Head ETag %s, Put returned %s", head.ETag, second.ETag)
	}
}

// testPutRaces starts writers at once, each creating the same key
// (If-None-Match: *) and then each replacing the same ETag (If-Match):
// where the server honours the condition, exactly one wins each round.
func testPutRaces(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "contended"
	const writers = 8
	// Each round writes other bytes: a writer that rewrote what it wrote
	// before would keep the ETag (an MD5 of the bytes), and the next
	// writer's If-Match would rightly hold too.
	round := 0
	race := func(opts transfer.PutOptions) (winners []int, etag string) {
		round++
		var (
			mu    sync.Mutex
			start = make(chan struct{})
			g     errgroup.Group
		)
		for i := range writers {
			g.Go(func() error {
				data := fmt.Sprintf("writer %d, round %d", i, round)
				<-start
				info, err := s.Put(ctx, key, strings.NewReader(data), int64(len(data)), opts)
				switch {
				case err == nil:
					mu.Lock()
					winners, etag = append(winners, i), info.ETag
					mu.Unlock()
				case !errors.Is(err, transfer.ErrPreconditionFailed):
					return fmt.Errorf("writer %d: %w", i, err)
				}
				return nil
			})
		}
		close(start)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		return winners, etag
	}
	check := func(what string, winners []int, honoured bool) {
		t.Helper()
		if !honoured {
			if len(winners) != writers {
				t.Fatalf("%s: %d of %d writers succeeded on a server said to ignore the condition", what, len(winners), writers)
			}
			return
		}
		if len(winners) != 1 {
			t.Fatalf("%s: writers %v succeeded, want exactly one", what, winners)
		}
		if got := readAll(t, ctx, s, key, 0, -1); string(got) != fmt.Sprintf("writer %d, round %d", winners[0], round) {
			t.Fatalf("%s: the object holds %q, but writer %d won", what, got, winners[0])
		}
	}
	winners, _ := race(transfer.PutOptions{})
	check("create-if-absent", winners, h.Caps.ConditionalWrites)
	info, err := s.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	winners, _ = race(transfer.PutOptions{IfMatch: info.ETag})
	check("replace-if-ETag", winners, h.Caps.ConditionalReplace)
}

func testListUploads(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	keys := []string{pre + "a", pre + "b", pre + "b"}
	ids := map[string]string{}
	for _, k := range keys {
		id, err := s.CreateUpload(ctx, k, transfer.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = k
		defer s.AbortUpload(ctx, k, id)
	}
	collect := func(p string) map[string]string {
		got := map[string]string{}
		if err := s.ListUploads(ctx, p, func(u transfer.UploadInfo) error {
			if u.Initiated.IsZero() {
				t.Errorf("upload %s has no initiation time", u.UploadID)
			}
			got[u.UploadID] = u.Key
			return nil
		}); err != nil {
			t.Fatalf("ListUploads(%q): %v", p, err)
		}
		return got
	}
	got := collect(pre + "b")
	if len(got) != 2 {
		t.Errorf("ListUploads(exact key) = %v, want the 2 uploads of %sb", got, pre)
	}
	// By prefix on every server: s3store makes up for MinIO, which
	// matches whole keys only.
	got = collect(pre)
	if len(got) != 3 {
		t.Errorf("ListUploads(prefix) = %v, want all 3", got)
	}
	var order []string
	if err := s.ListUploads(ctx, pre, func(u transfer.UploadInfo) error { order = append(order, u.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(order) {
		t.Errorf("ListUploads(prefix) keys %v, want them in order", order)
	}
	stop := errors.New("stop")
	n := 0
	err := s.ListUploads(ctx, pre+"b", func(transfer.UploadInfo) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ListUploads did not stop at fn's error: n=%d err=%v", n, err)
	}
}

func testNotFound(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "missing"
	_, err := s.Head(ctx, key)
	wantErr(t, "Head", err, transfer.ErrNotFound)
	if transfer.IsTransient(err) {
		t.Errorf("not found is transient: %v", err)
	}
	_, err = s.Get(ctx, key, 0, -1)
	wantErr(t, "Get", err, transfer.ErrNotFound)
	_, err = s.Get(ctx, key, 5, 10)
	wantErr(t, "ranged Get", err, transfer.ErrNotFound)
	_, err = s.HeadPart(ctx, key, 1)
	wantErr(t, "HeadPart", err, transfer.ErrNotFound)
	if err := deleteVersion(ctx, s, key, ""); err != nil {
		t.Errorf("DeleteVersion of a missing key: %v, want nil", err)
	}
	n := 0
	if err := s.List(ctx, key, func(transfer.ObjectInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List of an empty prefix: n=%d err=%v", n, err)
	}
}

// listCount is enough objects for more than one page of 1000.
const listCount = 1100

func putMany(t *testing.T, ctx context.Context, s transfer.Store, pre string, n int) {
	t.Helper()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			b := []byte(fmt.Sprint(i))
			_, err := s.Put(gctx, fmt.Sprintf("%s%05d", pre, i), bytes.NewReader(b), int64(len(b)), transfer.PutOptions{Overwrite: true})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("putting %d objects: %v", n, err)
	}
}

func testListPaginates(t *testing.T, h Harness) {
	if h.Quick {
		t.Skip("quick run: listing is covered by the full run on this server")
	}
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	putMany(t, ctx, s, pre, listCount)
	other := []byte("x")
	if _, err := s.Put(ctx, strings.TrimSuffix(pre, "/")+"x", bytes.NewReader(other), 1, transfer.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var keys []string
	err := s.List(ctx, pre, func(o transfer.ObjectInfo) error {
		if o.Size == 0 || o.LastModified.IsZero() {
			t.Errorf("List entry %+v lacks size or time", o)
		}
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(keys) != listCount {
		t.Fatalf("List returned %d keys, want %d", len(keys), listCount)
	}
	for i, k := range keys {
		if want := fmt.Sprintf("%s%05d", pre, i); k != want {
			t.Fatalf("List key %d = %q, want %q (in key order)", i, k, want)
		}
	}
	t.Logf("listed %d objects in %s", listCount, time.Since(start).Round(time.Millisecond))
}

// hostileKeys are names anyone who may write the bucket can give objects:
// control characters XML 1.0 cannot carry, characters URL encoding
// changes, separators and bidi overrides.
var hostileKeys = []string{"ctl\x1b]0;t\a\x1b[31m\x01\x7f", "nl\nx\r", "plus+space %2F&amp;<x>", "u\u0085\u009b\u2028\u202e\ufeffü"}

// testListHostileKeys: every listing returns such keys exactly, and one
// of them does not make the listing fail.
func testListHostileKeys(t *testing.T, h Harness) {
	s := h.New(t)
	if h.NewVersioned != nil {
		s = h.NewVersioned(t)
	}
	ctx := ctxFor(t)
	pre := prefix(t)
	var want []string
	for _, k := range hostileKeys {
		want = append(want, pre+k)
		if _, err := s.Put(ctx, pre+k, strings.NewReader("x"), 1, transfer.PutOptions{Overwrite: true}); err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
		id, err := s.CreateUpload(ctx, pre+k, transfer.CreateOptions{})
		if err != nil {
			t.Fatalf("CreateUpload %q: %v", k, err)
		}
		defer s.AbortUpload(ctx, pre+k, id)
	}
	slices.Sort(want)
	var listed, versions, uploads []string
	if err := s.List(ctx, pre, func(o transfer.ObjectInfo) error { listed = append(listed, o.Key); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := s.ListVersions(ctx, pre, func(v transfer.Version) error { versions = append(versions, v.Key); return nil }); err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	if err := s.ListUploads(ctx, pre, func(u transfer.UploadInfo) error { uploads = append(uploads, u.Key); return nil }); err != nil {
		t.Fatalf("ListUploads: %v", err)
	}
	for what, got := range map[string][]string{"List": listed, "ListVersions": versions, "ListUploads": uploads} {
		slices.Sort(got)
		switch {
		case h.Caps.ControlKeys && !slices.Equal(got, want):
			t.Errorf("%s = %q, want %q", what, got, want)
		case !h.Caps.ControlKeys && len(got) != len(want):
			t.Errorf("%s = %q, want %d keys", what, got, len(want))
		case !h.Caps.ControlKeys:
			// The keys without a C0 control are exact; the one with them
			// is not (else the server has ControlKeys).
			if slices.Contains(got, pre+hostileKeys[0]) {
				t.Errorf("%s returns %q exactly: the server has ControlKeys", what, hostileKeys[0])
			}
			ctl := func(k string) bool { return strings.HasPrefix(k, pre+"ctl") }
			got, want := slices.DeleteFunc(got, ctl), slices.DeleteFunc(slices.Clone(want), ctl)
			if !slices.Equal(got, want) {
				t.Errorf("%s = %q, want %q", what, got, want)
			}
		}
	}
}

func testListStops(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	putMany(t, ctx, s, pre, 5)
	stop := errors.New("stop")
	n := 0
	err := s.List(ctx, pre, func(transfer.ObjectInfo) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("List did not stop at fn's error: n=%d err=%v", n, err)
	}
}

// testListAfter: a listing that starts after a key, whether or not that
// key exists, lists exactly the keys after it under the prefix.
func testListAfter(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	putMany(t, ctx, s, pre, 5)
	for _, tc := range []struct {
		after string
		want  []int
	}{
		{"", []int{0, 1, 2, 3, 4}},
		{pre + "00001", []int{2, 3, 4}},  // an existing key: not itself
		{pre + "00001x", []int{2, 3, 4}}, // between two keys
		{pre + "00004", nil},
		{strings.TrimSuffix(pre, "/"), []int{0, 1, 2, 3, 4}}, // before the prefix
		{pre + "~", nil},                                     // after it
	} {
		var got []string
		if err := s.ListAfter(ctx, pre, tc.after, func(o transfer.ObjectInfo) error { got = append(got, o.Key); return nil }); err != nil {
			t.Fatalf("ListAfter %q: %v", tc.after, err)
		}
		var want []string
		for _, i := range tc.want {
			want = append(want, fmt.Sprintf("%s%05d", pre, i))
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListAfter %q = %q, want %q", tc.after, got, want)
		}
	}
}

func testUnversionedVersions(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	putMany(t, ctx, s, pre, 3)
	var vs []transfer.Version
	if err := s.ListVersions(ctx, pre, func(v transfer.Version) error { vs = append(vs, v); return nil }); err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	if len(vs) != 3 {
		t.Fatalf("ListVersions on an unversioned bucket: %+v, want 3 entries", vs)
	}
	for _, v := range vs {
		if !v.IsLatest || v.DeleteMarker {
			t.Errorf("unversioned entry %+v", v)
		}
	}
	// Deleting by the listed version ID removes the object.
	if err := deleteVersion(ctx, s, vs[0].Key, vs[0].VersionID); err != nil {
		t.Fatalf("DeleteVersion(%q, %q): %v", vs[0].Key, vs[0].VersionID, err)
	}
	if _, err := s.Head(ctx, vs[0].Key); !errors.Is(err, transfer.ErrNotFound) {
		t.Errorf("Head after DeleteVersion: %v", err)
	}
	if err := deleteVersion(ctx, s, vs[1].Key, ""); err != nil {
		t.Fatalf("DeleteVersion(%q, \"\"): %v", vs[1].Key, err)
	}
	if _, err := s.Head(ctx, vs[1].Key); !errors.Is(err, transfer.ErrNotFound) {
		t.Errorf("Head after DeleteVersion: %v", err)
	}
}

func testVersions(t *testing.T, h Harness) {
	if h.NewVersioned == nil {
		t.Skip("no versioned bucket for this store")
	}
	s := h.NewVersioned(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	key := pre + "obj"
	var ids []string
	for _, content := range []string{"one", "two"} {
		info, err := s.Put(ctx, key, strings.NewReader(content), int64(len(content)), transfer.PutOptions{Overwrite: true})
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		if info.VersionID == "" || info.VersionID == "null" {
			t.Fatalf("Put on a versioned bucket returned version %q", info.VersionID)
		}
		ids = append(ids, info.VersionID)
		time.Sleep(10 * time.Millisecond) // distinct modification times
	}
	// A second key, completed by multipart, to check versions of uploads.
	key2 := pre + "obj2"
	uid, err := s.CreateUpload(ctx, key2, transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := uploadPart(t, ctx, s, key2, uid, 1, []byte("multi"))
	info2, err := s.CompleteUpload(ctx, key2, uid, []transfer.Part{p}, transfer.CompleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info2.VersionID == "" || info2.VersionID == "null" {
		t.Errorf("CompleteUpload on a versioned bucket returned version %q", info2.VersionID)
	}

	if err := deleteVersion(ctx, s, key, ""); err != nil {
		t.Fatalf("DeleteVersion without version (delete marker): %v", err)
	}
	if _, err := s.Head(ctx, key); !errors.Is(err, transfer.ErrNotFound) {
		t.Errorf("Head after delete marker: %v, want ErrNotFound", err)
	}
	n := 0
	s.List(ctx, pre, func(o transfer.ObjectInfo) error {
		if o.Key == key {
			t.Errorf("List shows %s behind a delete marker", key)
		}
		n++
		return nil
	})
	var vs []transfer.Version
	if err := s.ListVersions(ctx, pre, func(v transfer.Version) error { vs = append(vs, v); return nil }); err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	if len(vs) != 4 {
		t.Fatalf("ListVersions = %+v, want 4 entries (marker, two, one, obj2)", vs)
	}
	if v := vs[0]; v.Key != key || !v.DeleteMarker || !v.IsLatest {
		t.Errorf("first entry %+v, want the latest delete marker of %s", v, key)
	}
	if v := vs[1]; v.Key != key || v.VersionID != ids[1] || v.IsLatest || v.DeleteMarker || v.Size != 3 {
		t.Errorf("second entry %+v, want version %s", v, ids[1])
	}
	if v := vs[2]; v.Key != key || v.VersionID != ids[0] {
		t.Errorf("third entry %+v, want version %s", v, ids[0])
	}
	if v := vs[3]; v.Key != key2 || !v.IsLatest || v.Size != 5 {
		t.Errorf("fourth entry %+v, want %s", v, key2)
	}

	// Shred: every version and marker, by ID.
	for _, v := range vs {
		if err := deleteVersion(ctx, s, v.Key, v.VersionID); err != nil {
			t.Fatalf("DeleteVersion(%s, %s): %v", v.Key, v.VersionID, err)
		}
	}
	if err := deleteVersion(ctx, s, key, ids[0]); err != nil {
		t.Errorf("DeleteVersion of a deleted version: %v, want nil", err)
	}
	left := 0
	if err := s.ListVersions(ctx, pre, func(transfer.Version) error { left++; return nil }); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d versions left after deleting them all", left)
	}
}

// DeleteAll deletes every version listed under pre with DeleteVersions
// and checks each item succeeded and nothing is left.
func DeleteAll(t *testing.T, ctx context.Context, s transfer.Store, pre string) []transfer.ObjectVersion {
	t.Helper()
	var items []transfer.ObjectVersion
	if err := s.ListVersions(ctx, pre, func(v transfer.Version) error {
		items = append(items, transfer.ObjectVersion{Key: v.Key, VersionID: v.VersionID})
		return nil
	}); err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	errs := s.DeleteVersions(ctx, items)
	if len(errs) != len(items) {
		t.Fatalf("DeleteVersions of %d items returned %d errors", len(items), len(errs))
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("DeleteVersions item %d (%s %s): %v", i, items[i].Key, items[i].VersionID, err)
		}
	}
	if err := s.ListVersions(ctx, pre, func(v transfer.Version) error {
		return fmt.Errorf("version %s of %s left", v.VersionID, v.Key)
	}); err != nil {
		t.Error(err)
	}
	return items
}

func testDeleteVersions(t *testing.T, h Harness) {
	if h.NewVersioned == nil {
		t.Skip("no versioned bucket for this store")
	}
	s := h.NewVersioned(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	for _, k := range []string{"a", "b", "c", "a", "b"} {
		if _, err := s.Put(ctx, pre+k, strings.NewReader(k), 1, transfer.PutOptions{Overwrite: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := deleteVersion(ctx, s, pre+"c", ""); err != nil { // a delete marker
		t.Fatal(err)
	}
	items := DeleteAll(t, ctx, s, pre)
	if len(items) != 6 {
		t.Errorf("deleted %d versions and markers, want 6", len(items))
	}
	// Again: what is gone is not an error.
	for i, err := range s.DeleteVersions(ctx, items) {
		if err != nil {
			t.Errorf("DeleteVersions of deleted item %d: %v, want nil", i, err)
		}
	}
	if errs := s.DeleteVersions(ctx, nil); len(errs) != 0 {
		t.Errorf("DeleteVersions of nothing: %v", errs)
	}
}

func testUnversionedDeleteVersions(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	putMany(t, ctx, s, pre, 3)
	DeleteAll(t, ctx, s, pre)
	// Without a version ID, and of a key that never was.
	for i, err := range s.DeleteVersions(ctx, []transfer.ObjectVersion{{Key: pre + "00001"}, {Key: pre + "never"}}) {
		if err != nil {
			t.Errorf("DeleteVersions item %d: %v, want nil", i, err)
		}
	}
}

func testMissingBucket(t *testing.T, h Harness) {
	if h.NewMissingBucket == nil {
		t.Skip("no missing-bucket store")
	}
	s := h.NewMissingBucket(t)
	ctx := ctxFor(t)
	key := prefix(t) + "obj"
	check := func(op string, err error) {
		t.Helper()
		wantErr(t, op, err, transfer.ErrNoSuchBucket)
		if !strings.Contains(err.Error(), s.Bucket()) {
			t.Errorf("%s: error %q does not name the bucket %q", op, err, s.Bucket())
		}
		if transfer.IsTransient(err) {
			t.Errorf("%s: missing bucket is transient: %v", op, err)
		}
	}
	_, err := s.CreateUpload(ctx, key, transfer.CreateOptions{})
	check("CreateUpload", err)
	_, err = s.Head(ctx, key)
	check("Head", err)
	_, err = s.Get(ctx, key, 0, -1)
	check("Get", err)
	_, err = s.Put(ctx, key, strings.NewReader("x"), 1, transfer.PutOptions{})
	check("Put", err)
	check("List", s.List(ctx, "", func(transfer.ObjectInfo) error { return nil }))
	check("ListUploads", s.ListUploads(ctx, key, func(transfer.UploadInfo) error { return nil }))
	check("ListVersions", s.ListVersions(ctx, "", func(transfer.Version) error { return nil }))
	for _, err := range s.DeleteVersions(ctx, []transfer.ObjectVersion{{Key: key}, {Key: key + "2", VersionID: "null"}}) {
		check("DeleteVersions", err)
	}
}

func testAccessDenied(t *testing.T, h Harness) {
	if h.NewDenied == nil {
		t.Skip("no store with refused credentials")
	}
	s, attempts := h.NewDenied(t)
	ctx := ctxFor(t)
	key := prefix(t) + "obj"
	var mu sync.Mutex
	calls := 0
	check := func(op string, err error) {
		t.Helper()
		mu.Lock()
		calls++
		mu.Unlock()
		wantErr(t, op, err, transfer.ErrAccessDenied)
		if transfer.IsTransient(err) {
			t.Errorf("%s: access denied is transient: %v", op, err)
		}
	}
	start := time.Now()
	_, err := s.CreateUpload(ctx, key, transfer.CreateOptions{})
	check("CreateUpload", err)
	_, err = s.Head(ctx, key)
	check("Head", err)
	_, err = s.Get(ctx, key, 0, 10)
	check("Get", err)
	_, err = s.Put(ctx, key, strings.NewReader("x"), 1, transfer.PutOptions{})
	check("Put", err)
	check("List", s.List(ctx, "", func(transfer.ObjectInfo) error { return nil }))
	check("ListVersions", s.ListVersions(ctx, "", func(transfer.Version) error { return nil }))
	errs := s.DeleteVersions(ctx, []transfer.ObjectVersion{{Key: key}})
	check("DeleteVersions", errs[0])
	elapsed := time.Since(start)
	// No retry storm: one attempt per call (Head may ask the bucket too).
	if n := attempts(); n > calls+1 {
		t.Errorf("%d requests for %d refused calls: access denied was retried", n, calls)
	}
	if elapsed > 5*time.Second {
		t.Errorf("refused calls took %s: backoff on access denied?", elapsed)
	}
}

func testCancelled(t *testing.T, h Harness) {
	s := h.New(t)
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	key := prefix(t) + "obj"
	_, err := s.Head(ctx, key)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Head with a cancelled context: %v", err)
	}
	if transfer.IsTransient(err) {
		t.Errorf("cancellation is transient: %v", err)
	}
	_, err = s.CreateUpload(ctx, key, transfer.CreateOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUpload with a cancelled context: %v", err)
	}
}

// The uploader, end to end against the store.

func sealedSpool(t *testing.T, data []byte) (*transfer.Spool, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spool")
	sp, err := transfer.CreateSpool(path, "fp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Release() })
	if _, err := sp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	return sp, path
}

// checkUploaded checks the object holds want, no upload of key is left
// and the spool is gone.
func checkUploaded(t *testing.T, ctx context.Context, s transfer.Store, key, spool string, want []byte) {
	t.Helper()
	if got := readAll(t, ctx, s, key, 0, -1); !bytes.Equal(got, want) {
		t.Fatalf("object %s: %d bytes, differs from the %d uploaded", key, len(got), len(want))
	}
	if err := s.ListUploads(ctx, key, func(u transfer.UploadInfo) error {
		return fmt.Errorf("upload %s of %s left unfinished", u.UploadID, u.Key)
	}); err != nil {
		t.Error(err)
	}
	for _, p := range []string{spool, spool + ".journal"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind (%v)", p, err)
		}
	}
}

func testUpload(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "a.csv.zip.age"
	data := randBytes(2*transfer.MinPartSize + 4321)
	sp, path := sealedSpool(t, data)
	res, err := transfer.Upload(ctx, s, sp, transfer.UploadOptions{Key: key, PartSize: transfer.MinPartSize,
		Metadata: map[string]string{"xfer-cipher": "age"}})
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if res.Parts != 3 || res.Size != int64(len(data)) || res.ETag == "" {
		t.Errorf("result %+v", res)
	}
	checkUploaded(t, ctx, s, key, path, data)
	head, err := s.Head(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["xfer-cipher"] != "age" {
		t.Errorf("metadata %v", head.Metadata)
	}

	// Again to the same key: refused before anything is sent.
	sp2, _ := sealedSpool(t, data[:100])
	_, err = transfer.Upload(ctx, s, sp2, transfer.UploadOptions{Key: key})
	wantErr(t, "Upload over an existing object", err, transfer.ErrPreconditionFailed)
}

// cancelAfter cancels once done reaches n bytes.
type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Progress(done, resumed, total int64) {
	if done >= c.n {
		c.cancel()
	}
}

type lastProgress struct {
	mu                   sync.Mutex
	done, resumed, total int64
}

func (p *lastProgress) Progress(done, resumed, total int64) {
	p.mu.Lock()
	p.done, p.resumed, p.total = done, resumed, total
	p.mu.Unlock()
}

func testUploadResume(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "a.csv.zip.age"
	data := randBytes(3*transfer.MinPartSize + 1)
	sp, path := sealedSpool(t, data)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One part at a time; stop once the second part starts, so the first
	// is stored.
	_, err := transfer.Upload(cctx, s, sp, transfer.UploadOptions{Key: key, PartSize: transfer.MinPartSize, Concurrency: 1,
		Progress: &cancelAfter{n: transfer.MinPartSize + 1, cancel: cancel}})
	if !errors.Is(err, transfer.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Upload: %v", err)
	}
	sp.Release()

	sp, err = transfer.OpenSpool(path, "fp")
	if err != nil {
		t.Fatalf("OpenSpool: %v", err)
	}
	defer sp.Release()
	pr := &lastProgress{}
	res, err := transfer.Upload(ctx, s, sp, transfer.UploadOptions{Key: key, Progress: pr})
	if err != nil {
		t.Fatalf("resumed Upload: %v", err)
	}
	if res.Resumed < transfer.MinPartSize || res.Resumed == int64(len(data)) {
		t.Errorf("resumed %d bytes, want at least one part and not all", res.Resumed)
	}
	if pr.done != int64(len(data)) || pr.resumed != res.Resumed || pr.total != int64(len(data)) {
		t.Errorf("progress %+v", pr)
	}
	checkUploaded(t, ctx, s, key, path, data)
}

func testUploadGrowing(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	key := prefix(t) + "a.csv.zip.age"
	data := randBytes(2*transfer.MinPartSize + 100)
	path := filepath.Join(t.TempDir(), "spool")
	sp, err := transfer.CreateSpool(path, "fp")
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Release()
	go func() {
		for off := 0; off < len(data); off += 1 << 20 {
			if _, err := sp.Write(data[off:min(off+1<<20, len(data))]); err != nil {
				sp.CloseWithError(err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		sp.Close()
	}()
	res, err := transfer.Upload(ctx, s, sp, transfer.UploadOptions{Key: key, SizeHint: int64(len(data))})
	if err != nil {
		t.Fatalf("Upload of a growing spool: %v", err)
	}
	if res.Parts != 2 {
		t.Errorf("%d parts of %d bytes, want 2 of 8 MiB", res.Parts, res.PartSize)
	}
	checkUploaded(t, ctx, s, key, path, data)
}

// The downloader, end to end against the store.

// download runs transfer.Download and returns the result and its content.
func download(t *testing.T, ctx context.Context, s transfer.Store, path string, opts transfer.DownloadOptions) (*transfer.Fetched, []byte) {
	t.Helper()
	d, err := transfer.Download(ctx, s, path, opts)
	if err != nil {
		t.Fatalf("Download %s: %v", opts.Key, err)
	}
	got, err := io.ReadAll(io.NewSectionReader(d, 0, d.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return d, got
}

func testDownload(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	dir := t.TempDir()

	// A multipart object, in chunks that do not line up with its parts.
	key := pre + "a.csv.zip.age"
	data := randBytes(2*transfer.MinPartSize + 4321)
	sp, _ := sealedSpool(t, data)
	if _, err := transfer.Upload(ctx, s, sp, transfer.UploadOptions{Key: key, PartSize: transfer.MinPartSize}); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	path := filepath.Join(dir, "a.fetch")
	d, got := download(t, ctx, s, path, transfer.DownloadOptions{Key: key, ChunkSize: 3 << 20, Concurrency: 3})
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, differ from the %d uploaded", len(got), len(data))
	}
	if !d.Verified || d.Parts != 3 || d.Resumed != 0 || d.Restarted {
		t.Errorf("Download of a 3-part object: verified %v, %d parts, resumed %d, restarted %v", d.Verified, d.Parts, d.Resumed, d.Restarted)
	}
	// A second Download of the same spool waits for no one: it is busy.
	if _, err := transfer.Download(ctx, s, path, transfer.DownloadOptions{Key: key}); !errors.Is(err, transfer.ErrSpoolBusy) {
		t.Errorf("concurrent Download: %v, want ErrSpoolBusy", err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".journal"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left after Remove (%v)", p, err)
		}
	}

	// An object stored in one piece has a whole-object checksum.
	small := randBytes(1000)
	if _, err := s.Put(ctx, pre+"small", bytes.NewReader(small), int64(len(small)), transfer.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	d, got = download(t, ctx, s, filepath.Join(dir, "small.fetch"), transfer.DownloadOptions{Key: pre + "small", ChunkSize: 300})
	if !bytes.Equal(got, small) || !d.Verified || d.Parts != 1 {
		t.Errorf("Download of a Put object: equal %v, verified %v, %d parts", bytes.Equal(got, small), d.Verified, d.Parts)
	}
	d.Release()

	_, err := transfer.Download(ctx, s, filepath.Join(dir, "missing.fetch"), transfer.DownloadOptions{Key: pre + "missing"})
	wantErr(t, "Download of a missing key", err, transfer.ErrNotFound)
}

func testDownloadResume(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxFor(t)
	pre := prefix(t)
	key := pre + "a.csv.zip.age"
	data := randBytes(2*transfer.MinPartSize + 1)
	sp, _ := sealedSpool(t, data)
	if _, err := transfer.Upload(ctx, s, sp, transfer.UploadOptions{Key: key, PartSize: transfer.MinPartSize}); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	path := filepath.Join(t.TempDir(), "a.fetch")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := transfer.Download(cctx, s, path, transfer.DownloadOptions{Key: key, ChunkSize: 1 << 20, Concurrency: 1,
		Progress: &cancelAfter{n: 4 << 20, cancel: cancel}})
	if !errors.Is(err, transfer.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Download: %v", err)
	}
	pr := &lastProgress{}
	d, got := download(t, ctx, s, path, transfer.DownloadOptions{Key: key, Progress: pr})
	if !bytes.Equal(got, data) {
		t.Fatal("resumed download differs from the object")
	}
	if d.Resumed < 4<<20 || d.Resumed >= int64(len(data)) || d.Restarted {
		t.Errorf("resumed %d bytes (restarted %v), want at least 4 MiB and not all", d.Resumed, d.Restarted)
	}
	if pr.done != int64(len(data)) || pr.resumed != d.Resumed || pr.total != int64(len(data)) {
		t.Errorf("progress %+v", pr)
	}
	d.Release()

	// The object is replaced: the spool of the old one is not reused.
	other := randBytes(3000)
	if _, err := s.Put(ctx, key, bytes.NewReader(other), int64(len(other)), transfer.PutOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	d, got = download(t, ctx, s, path, transfer.DownloadOptions{Key: key})
	if !bytes.Equal(got, other) || d.Resumed != 0 || !d.Restarted {
		t.Errorf("download of a replaced object: equal %v, resumed %d, restarted %v", bytes.Equal(got, other), d.Resumed, d.Restarted)
	}
	d.Remove()
}

// deleteVersion deletes one version (or, with an empty versionID, the
// current object) through DeleteVersions.
func deleteVersion(ctx context.Context, s transfer.Store, key, versionID string) error {
	return s.DeleteVersions(ctx, []transfer.ObjectVersion{{Key: key, VersionID: versionID}})[0]
}
