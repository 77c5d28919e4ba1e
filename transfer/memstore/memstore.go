// Package memstore is an in-memory transfer.Store with fault injection, for
// fast unit tests of transfer's jobs. It keeps the S3 rules that matter to
// them (part sizes, part checksums, conditional completes, versions and
// delete markers) and can fail any call: transiently or permanently, after
// taking effect (a lost reply), or with a body cut part way.
//
// It is in addition to the real servers of internal/testkit/s3test, never instead:
// the store suite runs against both.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xfer-dev/xfer/transfer"
)

// Method names, as used by Fault and Calls.
const (
	CreateUpload   = "CreateUpload"
	UploadPart     = "UploadPart"
	ListParts      = "ListParts"
	CompleteUpload = "CompleteUpload"
	AbortUpload    = "AbortUpload"
	ListUploads    = "ListUploads"
	Get            = "Get"
	Head           = "Head"
	HeadPart       = "HeadPart"
	List           = "List"
	ListVersions   = "ListVersions"
	DeleteVersions = "DeleteVersions"
	Put            = "Put"
)

// Options configure a Store.
type Options struct {
	Bucket    string // default "mem"
	Versioned bool
	// NoBucket makes every call fail with ErrNoSuchBucket; Denied with
	// ErrAccessDenied: for the error paths of the store suite.
	NoBucket, Denied bool
	// PageSize is the listing page size (default 1000), to exercise paging.
	PageSize int
	// IgnoreConditional makes Put and CompleteUpload ignore If-None-Match
	// and If-Match, as some S3 implementations do: for the tests of what
	// xfer does on such a server.
	IgnoreConditional bool
}

// A Fault makes calls of one method fail.
type Fault struct {
	Method string // one of the method name constants
	// Call is the 1-based number of the method's call to fail, counted
	// from the Store's creation; 0 fails every call from now on.
	Call int
	// Key, when set, limits the fault to calls on that key; for
	// DeleteVersions, to that key's items, the others being deleted.
	Key string
	// Err is the error returned; nil means a transient *StoreError.
	Err error
	// Permanent makes the default error permanent instead of transient.
	Permanent bool
	// Lost lets the call take effect before failing, as when the server
	// did the work but the reply never arrived.
	Lost bool
	// Cut, for UploadPart and Put, reads this many bytes of the body and
	// then fails (the connection dropped mid-way); for Get, the returned
	// reader fails after this many bytes. 0 means no cut.
	Cut int64
	// Corrupt, for Get, inverts the first byte of the returned range and
	// lets the call succeed: damage the server did not notice.
	Corrupt bool
	// Hook, when set, is called when the fault fires (before failing), for
	// tests that act at that moment, e.g. cancelling a context.
	Hook func()
}

// Store is an in-memory transfer.Store. The zero value is not usable: call New.
type Store struct {
	opts Options

	mu      sync.Mutex
	objects map[string][]*version // oldest first
	uploads map[string]*upload    // by upload ID
	faults  []*Fault
	calls   map[string]int
	now     time.Time
}

var _ transfer.Store = (*Store)(nil)

type version struct {
	id           string
	data         []byte
	etag         string
	meta         map[string]string
	modified     time.Time
	deleteMarker bool
	checksum     string  // as Head reports it
	partSizes    []int64 // of a multipart upload; nil for one piece
}

type upload struct {
	key      string
	id       string
	meta     map[string]string
	parts    map[int]transfer.Part
	data     map[int][]byte
	started  time.Time
	complete bool
}

// New returns an empty Store.
func New(opts Options) *Store {
	if opts.Bucket == "" {
		opts.Bucket = "mem"
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	return &Store{
		opts:    opts,
		objects: map[string][]*version{},
		uploads: map[string]*upload{},
		calls:   map[string]int{},
		now:     time.Now().UTC().Truncate(time.Second),
	}
}

// Inject adds a fault. Faults fire in the order injected; a fault with a
// Call number fires once.
func (s *Store) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault not yet fired.
func (s *Store) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns how often method has been called.
func (s *Store) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// TotalCalls returns how many calls have been made, of every method.
func (s *Store) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// Object returns the current content of key, for test assertions.
func (s *Store) Object(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.latest(key)
	if v == nil {
		return nil, false
	}
	return bytes.Clone(v.data), true
}

// UploadIDs returns the IDs of the unfinished uploads, for assertions.
func (s *Store) UploadIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, u := range s.uploads {
		if !u.complete {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Bucket implements transfer.Store.
func (s *Store) Bucket() string { return s.opts.Bucket }

// begin counts a call and returns the fault to apply, if any, or the
// error the call must fail with before doing anything. s.mu must be held.
func (s *Store) begin(ctx context.Context, method, key string) (*Fault, error) {
	s.calls[method]++
	if err := ctx.Err(); err != nil {
		return nil, s.errorf(method, key, nil, false, err)
	}
	if s.opts.Denied {
		return nil, s.errorf(method, key, transfer.ErrAccessDenied, false, errors.New("AccessDenied"))
	}
	if s.opts.NoBucket {
		return nil, s.errorf(method, key, transfer.ErrNoSuchBucket, false, fmt.Errorf("bucket %s does not exist", s.opts.Bucket))
	}
	return s.fault(method, key), nil
}

// fault returns the fault that fires now for method on key, if any,
// dropping it when it fires once. s.mu must be held.
func (s *Store) fault(method, key string) *Fault {
	n := s.calls[method]
	for i, f := range s.faults {
		if f.Method != method || (f.Call != 0 && f.Call != n) || (f.Key != "" && f.Key != key) {
			continue
		}
		if f.Call != 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		if f.Hook != nil {
			f.Hook()
		}
		return f
	}
	return nil
}

// failure is the error a fault makes method return.
func (s *Store) failure(f *Fault, method, key string) error {
	if f.Err != nil {
		return f.Err
	}
	return s.errorf(method, key, nil, !f.Permanent, errors.New("injected fault"))
}

func (s *Store) errorf(op, key string, kind error, temporary bool, err error) error {
	return &transfer.StoreError{Op: op, Bucket: s.opts.Bucket, Key: key, Kind: kind, Temporary: temporary, Err: err}
}

func (s *Store) tick() time.Time {
	s.now = s.now.Add(time.Second)
	return s.now
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Store) latest(key string) *version {
	vs := s.objects[key]
	if len(vs) == 0 || vs[len(vs)-1].deleteMarker {
		return nil
	}
	return vs[len(vs)-1]
}

// store adds a new current version of key (replacing it when unversioned).
func (s *Store) store(key string, v *version) {
	if s.opts.Versioned {
		v.id = newID()
		s.objects[key] = append(s.objects[key], v)
		return
	}
	v.id = "null"
	s.objects[key] = []*version{v}
}

// CreateUpload implements transfer.Store.
func (s *Store) CreateUpload(ctx context.Context, key string, opts transfer.CreateOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, CreateUpload, key)
	if err != nil {
		return "", err
	}
	if f != nil && !f.Lost {
		return "", s.failure(f, CreateUpload, key)
	}
	u := &upload{key: key, id: newID(), meta: lowerKeys(opts.Metadata), parts: map[int]transfer.Part{}, data: map[int][]byte{}, started: s.tick()}
	s.uploads[u.id] = u
	if f != nil {
		return "", s.failure(f, CreateUpload, key)
	}
	return u.id, nil
}

func (s *Store) openUpload(op, key, id string) (*upload, error) {
	u := s.uploads[id]
	if u == nil || u.complete || u.key != key {
		return nil, s.errorf(op, key, transfer.ErrNoSuchUpload, false, fmt.Errorf("upload %s", id))
	}
	return u, nil
}

// UploadPart implements transfer.Store. The body is read without holding
// the Store's lock, so concurrent parts really overlap.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, body io.ReadSeeker, size int64, checksum string) (transfer.Part, error) {
	s.mu.Lock()
	f, err := s.begin(ctx, UploadPart, key)
	if err == nil {
		_, err = s.openUpload(UploadPart, key, uploadID)
	}
	s.mu.Unlock()
	if err != nil {
		return transfer.Part{}, err
	}
	if n < 1 || n > transfer.MaxParts {
		return transfer.Part{}, s.errorf(UploadPart, key, nil, false, fmt.Errorf("part number %d out of range", n))
	}
	if _, err := body.Seek(0, io.SeekCurrent); err != nil {
		return transfer.Part{}, s.errorf(UploadPart, key, nil, false, fmt.Errorf("body not seekable: %w", err))
	}
	if f != nil && f.Cut > 0 {
		io.CopyN(io.Discard, body, min(f.Cut, size))
		return transfer.Part{}, s.failure(f, UploadPart, key)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(body, data); err != nil {
		return transfer.Part{}, s.errorf(UploadPart, key, nil, false, fmt.Errorf("reading part %d: %w", n, err))
	}
	sum := sha256.Sum256(data)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != checksum {
		return transfer.Part{}, s.errorf(UploadPart, key, transfer.ErrChecksumMismatch, false,
			fmt.Errorf("part %d: SHA-256 is %s, sent %s", n, got, checksum))
	}
	if f != nil && !f.Lost {
		return transfer.Part{}, s.failure(f, UploadPart, key)
	}
	m := md5.Sum(data)
	p := transfer.Part{Number: n, Size: size, ETag: `"` + hex.EncodeToString(m[:]) + `"`, Checksum: checksum}
	s.mu.Lock()
	u, err := s.openUpload(UploadPart, key, uploadID) // aborted meanwhile?
	if err == nil {
		u.parts[n], u.data[n] = p, data
	}
	s.mu.Unlock()
	if err != nil {
		return transfer.Part{}, err
	}
	if f != nil {
		return transfer.Part{}, s.failure(f, UploadPart, key)
	}
	return p, nil
}

// ListParts implements transfer.Store.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]transfer.Part, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, ListParts, key)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return nil, s.failure(f, ListParts, key)
	}
	u, err := s.openUpload(ListParts, key, uploadID)
	if err != nil {
		return nil, err
	}
	parts := slices.Collect(maps.Values(u.parts))
	slices.SortFunc(parts, func(a, b transfer.Part) int { return a.Number - b.Number })
	return parts, nil
}

// CompleteUpload implements transfer.Store.
func (s *Store) CompleteUpload(ctx context.Context, key, uploadID string, parts []transfer.Part, opts transfer.CompleteOptions) (transfer.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, CompleteUpload, key)
	if err != nil {
		return transfer.ObjectInfo{}, err
	}
	if f != nil && !f.Lost {
		return transfer.ObjectInfo{}, s.failure(f, CompleteUpload, key)
	}
	u, err := s.openUpload(CompleteUpload, key, uploadID)
	if err != nil {
		return transfer.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return transfer.ObjectInfo{}, s.errorf(CompleteUpload, key, nil, false, errors.New("no parts"))
	}
	var data []byte
	var md5s []byte
	var sums [][]byte
	var sizes []int64
	for i, p := range parts {
		have, ok := u.parts[p.Number]
		if !ok || strings.Trim(have.ETag, `"`) != strings.Trim(p.ETag, `"`) {
			return transfer.ObjectInfo{}, s.errorf(CompleteUpload, key, nil, false, fmt.Errorf("InvalidPart: part %d", p.Number))
		}
		if p.Checksum != "" && p.Checksum != have.Checksum {
			return transfer.ObjectInfo{}, s.errorf(CompleteUpload, key, transfer.ErrChecksumMismatch, false, fmt.Errorf("part %d", p.Number))
		}
		if i > 0 && parts[i-1].Number >= p.Number {
			return transfer.ObjectInfo{}, s.errorf(CompleteUpload, key, nil, false, errors.New("InvalidPartOrder"))
		}
		if i < len(parts)-1 && have.Size < transfer.MinPartSize {
			return transfer.ObjectInfo{}, s.errorf(CompleteUpload, key, nil, false, fmt.Errorf("EntityTooSmall: part %d is %d bytes", p.Number, have.Size))
		}
		data = append(data, u.data[p.Number]...)
		sum, _ := base64.StdEncoding.DecodeString(have.Checksum)
		sums = append(sums, sum)
		sizes = append(sizes, have.Size)
		b, _ := hex.DecodeString(strings.Trim(have.ETag, `"`))
		md5s = append(md5s, b...)
	}
	if !opts.Overwrite && !s.opts.IgnoreConditional && s.latest(key) != nil {
		return transfer.ObjectInfo{}, s.errorf(CompleteUpload, key, transfer.ErrPreconditionFailed, false, errors.New("PreconditionFailed"))
	}
	m := md5.Sum(md5s)
	v := &version{data: data, etag: fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(m[:]), len(parts)), meta: u.meta, modified: s.tick(),
		checksum: transfer.CompositeChecksum(sums), partSizes: sizes}
	s.store(key, v)
	u.complete = true
	delete(s.uploads, uploadID)
	if f != nil {
		return transfer.ObjectInfo{}, s.failure(f, CompleteUpload, key)
	}
	return transfer.ObjectInfo{Key: key, ETag: v.etag, VersionID: v.id}, nil
}

// AbortUpload implements transfer.Store.
func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, AbortUpload, key)
	if err != nil {
		return err
	}
	if f != nil && !f.Lost {
		return s.failure(f, AbortUpload, key)
	}
	if u := s.uploads[uploadID]; u != nil && u.key == key {
		delete(s.uploads, uploadID)
	}
	if f != nil {
		return s.failure(f, AbortUpload, key)
	}
	return nil
}

// ListUploads implements transfer.Store; it matches prefixes, as S3 does.
func (s *Store) ListUploads(ctx context.Context, prefix string, fn func(transfer.UploadInfo) error) error {
	s.mu.Lock()
	f, err := s.begin(ctx, ListUploads, "")
	if err == nil && f != nil {
		err = s.failure(f, ListUploads, "")
	}
	var list []transfer.UploadInfo
	for _, u := range s.uploads {
		if !u.complete && strings.HasPrefix(u.key, prefix) {
			list = append(list, transfer.UploadInfo{Key: u.key, UploadID: u.id, Initiated: u.started})
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b transfer.UploadInfo) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated))
	})
	for _, u := range list {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// Get implements transfer.Store.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, Get, key)
	if err != nil {
		return nil, err
	}
	if f != nil && f.Cut == 0 && !f.Corrupt {
		return nil, s.failure(f, Get, key)
	}
	v := s.latest(key)
	if v == nil {
		return nil, s.errorf(Get, key, transfer.ErrNotFound, false, errors.New("NoSuchKey"))
	}
	if offset < 0 || (offset > 0 && offset >= int64(len(v.data))) {
		return nil, s.errorf(Get, key, nil, false, fmt.Errorf("InvalidRange: %d of %d bytes", offset, len(v.data)))
	}
	end := int64(len(v.data))
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	b := bytes.Clone(v.data[offset:end])
	var r io.Reader = bytes.NewReader(b)
	switch {
	case f != nil && f.Corrupt:
		if len(b) > 0 {
			b[0] ^= 0xff
		}
	case f != nil:
		r = io.MultiReader(io.LimitReader(r, f.Cut), errReader{s.failure(f, Get, key)})
	}
	return taggedReader{r, v.etag}, nil
}

// taggedReader is what Get returns: the bytes, and the ETag of their
// version (transfer.Tagged).
type taggedReader struct {
	io.Reader
	etag string
}

func (r taggedReader) Close() error { return nil }
func (r taggedReader) ETag() string { return r.etag }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Head implements transfer.Store.
func (s *Store) Head(ctx context.Context, key string) (transfer.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, Head, key)
	if err != nil {
		return transfer.ObjectInfo{}, err
	}
	if f != nil {
		return transfer.ObjectInfo{}, s.failure(f, Head, key)
	}
	v := s.latest(key)
	if v == nil {
		return transfer.ObjectInfo{}, s.errorf(Head, key, transfer.ErrNotFound, false, errors.New("NotFound"))
	}
	return transfer.ObjectInfo{Key: key, Size: int64(len(v.data)), ETag: v.etag, LastModified: v.modified,
		VersionID: v.id, Metadata: maps.Clone(v.meta), Checksum: v.checksum}, nil
}

// HeadPart implements transfer.Store.
func (s *Store) HeadPart(ctx context.Context, key string, n int) (transfer.PartInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, HeadPart, key)
	if err != nil {
		return transfer.PartInfo{}, err
	}
	if f != nil {
		return transfer.PartInfo{}, s.failure(f, HeadPart, key)
	}
	v := s.latest(key)
	if v == nil {
		return transfer.PartInfo{}, s.errorf(HeadPart, key, transfer.ErrNotFound, false, errors.New("NotFound"))
	}
	sizes := v.partSizes
	if sizes == nil {
		sizes = []int64{int64(len(v.data))}
	}
	if n < 1 || n > len(sizes) {
		return transfer.PartInfo{}, s.errorf(HeadPart, key, nil, false, fmt.Errorf("InvalidPartNumber: %d of %d", n, len(sizes)))
	}
	return transfer.PartInfo{Number: n, Size: sizes[n-1], Parts: len(sizes), ETag: v.etag}, nil
}

// List implements transfer.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(transfer.ObjectInfo) error) error {
	return s.ListAfter(ctx, prefix, "", fn)
}

// ListAfter implements transfer.Store. Its calls count as List's (a
// request a page).
func (s *Store) ListAfter(ctx context.Context, prefix, startAfter string, fn func(transfer.ObjectInfo) error) error {
	marker := startAfter
	for {
		s.mu.Lock()
		f, err := s.begin(ctx, List, "")
		if err == nil && f != nil {
			err = s.failure(f, List, "")
		}
		var page []transfer.ObjectInfo
		if err == nil {
			keys := slices.Sorted(maps.Keys(s.objects))
			i, _ := slices.BinarySearch(keys, max(marker, prefix))
			for _, k := range keys[i:] {
				if k <= marker {
					continue
				}
				if !strings.HasPrefix(k, prefix) {
					break // the keys under prefix are together, in order
				}
				if v := s.latest(k); v != nil {
					page = append(page, transfer.ObjectInfo{Key: k, Size: int64(len(v.data)), ETag: v.etag, LastModified: v.modified})
					if len(page) == s.opts.PageSize {
						break
					}
				}
			}
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		for _, o := range page {
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(page) < s.opts.PageSize {
			return nil
		}
		marker = page[len(page)-1].Key
	}
}

// ListVersions implements transfer.Store.
func (s *Store) ListVersions(ctx context.Context, prefix string, fn func(transfer.Version) error) error {
	s.mu.Lock()
	f, err := s.begin(ctx, ListVersions, "")
	if err == nil && f != nil {
		err = s.failure(f, ListVersions, "")
	}
	var list []transfer.Version
	for _, k := range slices.Sorted(maps.Keys(s.objects)) {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		vs := s.objects[k]
		for i := len(vs) - 1; i >= 0; i-- {
			v := vs[i]
			list = append(list, transfer.Version{Key: k, VersionID: v.id, IsLatest: i == len(vs)-1, DeleteMarker: v.deleteMarker,
				Size: int64(len(v.data)), ETag: v.etag, LastModified: v.modified})
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for _, v := range list {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// DeleteVersions implements transfer.Store, in one call whatever the
// number of items. A Fault without a Key fails the whole call; one with a
// Key, that key's items.
func (s *Store) DeleteVersions(ctx context.Context, vs []transfer.ObjectVersion) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(vs))
	f, err := s.begin(ctx, DeleteVersions, "")
	if err == nil && f != nil && !f.Lost {
		err = s.failure(f, DeleteVersions, "")
	}
	for i, v := range vs {
		if err != nil {
			errs[i] = err
			continue
		}
		vf := s.fault(DeleteVersions, v.Key)
		if vf == nil || vf.Lost {
			s.deleteVersion(v.Key, v.VersionID)
		}
		switch {
		case vf != nil:
			errs[i] = s.failure(vf, DeleteVersions, v.Key)
		case f != nil:
			errs[i] = s.failure(f, DeleteVersions, "")
		}
	}
	return errs
}

// deleteVersion removes one item as DeleteVersions promises. s.mu must
// be held.
func (s *Store) deleteVersion(key, versionID string) {
	vs := s.objects[key]
	switch {
	case versionID == "" && s.opts.Versioned:
		if len(vs) > 0 {
			s.objects[key] = append(vs, &version{id: newID(), deleteMarker: true, modified: s.tick()})
		}
	case versionID == "" || versionID == "null" && !s.opts.Versioned:
		delete(s.objects, key)
	default:
		vs = slices.DeleteFunc(vs, func(v *version) bool { return v.id == versionID })
		if len(vs) == 0 {
			delete(s.objects, key)
		} else {
			s.objects[key] = vs
		}
	}
}

// Put implements transfer.Store.
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, opts transfer.PutOptions) (transfer.ObjectInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.begin(ctx, Put, key)
	if err != nil {
		return transfer.ObjectInfo{}, err
	}
	if f != nil && f.Cut > 0 {
		io.CopyN(io.Discard, body, min(f.Cut, size))
		return transfer.ObjectInfo{}, s.failure(f, Put, key)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(body, data); err != nil {
		return transfer.ObjectInfo{}, s.errorf(Put, key, nil, false, fmt.Errorf("reading body: %w", err))
	}
	sum := sha256.Sum256(data)
	if got := base64.StdEncoding.EncodeToString(sum[:]); opts.Checksum != "" && got != opts.Checksum {
		return transfer.ObjectInfo{}, s.errorf(Put, key, transfer.ErrChecksumMismatch, false, fmt.Errorf("SHA-256 is %s, sent %s", got, opts.Checksum))
	}
	if f != nil && !f.Lost {
		return transfer.ObjectInfo{}, s.failure(f, Put, key)
	}
	if cur := s.latest(key); !s.opts.IgnoreConditional {
		switch {
		case opts.IfMatch != "" && (cur == nil || strings.Trim(cur.etag, `"`) != strings.Trim(opts.IfMatch, `"`)):
			return transfer.ObjectInfo{}, s.errorf(Put, key, transfer.ErrPreconditionFailed, false, errors.New("PreconditionFailed: If-Match"))
		case opts.IfMatch == "" && !opts.Overwrite && cur != nil:
			return transfer.ObjectInfo{}, s.errorf(Put, key, transfer.ErrPreconditionFailed, false, errors.New("PreconditionFailed"))
		}
	}
	m := md5.Sum(data)
	v := &version{data: data, etag: `"` + hex.EncodeToString(m[:]) + `"`, meta: lowerKeys(opts.Metadata), modified: s.tick(),
		checksum: base64.StdEncoding.EncodeToString(sum[:])}
	s.store(key, v)
	if f != nil {
		return transfer.ObjectInfo{}, s.failure(f, Put, key)
	}
	return transfer.ObjectInfo{Key: key, Size: size, ETag: v.etag, VersionID: v.id}, nil
}

// lowerKeys copies metadata with lower-case keys, as S3 returns them.
func lowerKeys(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
