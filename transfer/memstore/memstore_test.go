package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/transfer/storetest"
)

func TestStoreSuite(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) transfer.Store { return memstore.New(memstore.Options{PageSize: 100}) },
		NewVersioned: func(t *testing.T) transfer.Store {
			return memstore.New(memstore.Options{Versioned: true})
		},
		NewMissingBucket: func(t *testing.T) transfer.Store {
			return memstore.New(memstore.Options{Bucket: "no-such-bucket", NoBucket: true})
		},
		NewDenied: func(t *testing.T) (transfer.Store, func() int) {
			s := memstore.New(memstore.Options{Denied: true})
			return s, s.TotalCalls
		},
		Caps: storetest.Caps{ConditionalWrites: true, ConditionalReplace: true, PartChecksums: true, ControlKeys: true},
	})
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{})
	data := []byte("hello, parts")
	sum := storetest.Checksum(data)
	id, err := s.CreateUpload(ctx, "k", transfer.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The 2nd UploadPart fails transiently, the 3rd permanently.
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 2})
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 3, Permanent: true})
	if _, err := s.UploadPart(ctx, "k", id, 1, bytes.NewReader(data), int64(len(data)), sum); err != nil {
		t.Fatalf("call 1: %v", err)
	}
	_, err = s.UploadPart(ctx, "k", id, 1, bytes.NewReader(data), int64(len(data)), sum)
	if err == nil || !transfer.IsTransient(err) {
		t.Fatalf("call 2: %v, want a transient error", err)
	}
	_, err = s.UploadPart(ctx, "k", id, 1, bytes.NewReader(data), int64(len(data)), sum)
	if err == nil || transfer.IsTransient(err) {
		t.Fatalf("call 3: %v, want a permanent error", err)
	}
	if _, err := s.UploadPart(ctx, "k", id, 1, bytes.NewReader(data), int64(len(data)), sum); err != nil {
		t.Fatalf("call 4: %v", err)
	}

	// A cut body: the store read some of it, then failed.
	s.Inject(memstore.Fault{Method: memstore.UploadPart, Call: 5, Cut: 4})
	r := bytes.NewReader(data)
	if _, err := s.UploadPart(ctx, "k", id, 2, r, int64(len(data)), sum); !transfer.IsTransient(err) {
		t.Fatalf("cut body: %v", err)
	}
	if r.Len() != len(data)-4 {
		t.Errorf("cut body: %d bytes read, want 4", len(data)-r.Len())
	}

	// A lost reply: the complete happened, the caller saw an error.
	parts, _ := s.ListParts(ctx, "k", id)
	custom := errors.New("connection reset")
	s.Inject(memstore.Fault{Method: memstore.CompleteUpload, Lost: true, Err: custom})
	if _, err := s.CompleteUpload(ctx, "k", id, parts, transfer.CompleteOptions{}); !errors.Is(err, custom) {
		t.Fatalf("lost complete: %v", err)
	}
	s.ClearFaults()
	if got, ok := s.Object("k"); !ok || !bytes.Equal(got, data) {
		t.Fatalf("object after lost complete: %q %v", got, ok)
	}
	if ids := s.UploadIDs(); len(ids) != 0 {
		t.Errorf("uploads left: %v", ids)
	}

	// A Get cut mid-way.
	s.Inject(memstore.Fault{Method: memstore.Get, Call: 1, Cut: 5})
	rc, err := s.Get(ctx, "k", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if len(got) != 5 || !transfer.IsTransient(err) {
		t.Fatalf("cut Get: %q, %v", got, err)
	}
	if s.Calls(memstore.UploadPart) != 5 {
		t.Errorf("UploadPart calls = %d, want 5", s.Calls(memstore.UploadPart))
	}
}

// TestDeleteVersionsKeyFault: a fault with a Key fails that key's items of
// DeleteVersions alone; the others are deleted.
func TestDeleteVersionsKeyFault(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Options{Versioned: true})
	var items []transfer.ObjectVersion
	for _, k := range []string{"a", "b", "c"} {
		info, err := s.Put(ctx, k, bytes.NewReader([]byte(k)), 1, transfer.PutOptions{Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, transfer.ObjectVersion{Key: k, VersionID: info.VersionID})
	}
	locked := &transfer.StoreError{Op: "DeleteObjects", Key: "b", Kind: transfer.ErrAccessDenied}
	s.Inject(memstore.Fault{Method: memstore.DeleteVersions, Key: "b", Err: locked})
	errs := s.DeleteVersions(ctx, items)
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], transfer.ErrAccessDenied) {
		t.Fatalf("DeleteVersions = %v, want only b's item refused", errs)
	}
	for i, k := range []string{"a", "b", "c"} {
		if _, ok := s.Object(k); ok != (i == 1) {
			t.Errorf("%s still there: %v", k, ok)
		}
	}
	if n := s.Calls(memstore.DeleteVersions); n != 1 {
		t.Errorf("%d DeleteVersions calls, want 1", n)
	}
}
