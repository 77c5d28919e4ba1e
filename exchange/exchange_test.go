package exchange

import (
	"path/filepath"
	"testing"

	"github.com/xfer-dev/xfer/transfer"
)

func TestExchangeIdent(t *testing.T) {
	same := []string{
		"http://127.0.0.1:9000",
		"http://127.0.0.1:9000/",
		"HTTP://127.0.0.1:9000//",
	}
	for _, e := range same {
		if got, want := Ident(e, "b"), "http://127.0.0.1:9000|b"; got != want {
			t.Errorf("Ident(%q) = %q, want %q", e, got, want)
		}
	}
	if got, want := Ident("https://S3.Example.COM:443/", "b"), "https://s3.example.com|b"; got != want {
		t.Errorf("default port, case: got %q, want %q", got, want)
	}
	if got, want := Ident("http://[::1]:80", "b"), "http://[::1]|b"; got != want {
		t.Errorf("IPv6 default port: got %q, want %q", got, want)
	}
	// Different endpoints, buckets or paths stay apart.
	distinct := map[string]bool{}
	for _, c := range [][2]string{
		{"http://127.0.0.1:9000", "b"},
		{"http://127.0.0.1:9001", "b"},
		{"http://localhost:9000", "b"},
		{"http://127.0.0.1:9000", "c"},
		{"https://127.0.0.1:9000", "b"},
		{"http://127.0.0.1:9000/s3", "b"},
		{"", "b"},
	} {
		id := Ident(c[0], c[1])
		if distinct[id] {
			t.Errorf("%q %q: ident %q not distinct", c[0], c[1], id)
		}
		distinct[id] = true
	}
}

// TestLatestIs: pull --shred-after shreds only when the current version
// is still the one pulled.
func TestLatestIs(t *testing.T) {
	pulled := transfer.Version{VersionID: "1", ETag: `"aaa"`}
	newer := transfer.Version{VersionID: "2", ETag: `"bbb"`, IsLatest: true}
	marker := transfer.Version{VersionID: "3", DeleteMarker: true, IsLatest: true}
	cur := pulled
	cur.IsLatest = true
	for _, c := range []struct {
		name     string
		versions []transfer.Version
		want     bool
	}{
		{"unchanged", []transfer.Version{cur}, true},
		{"replaced since", []transfer.Version{newer, pulled}, false},
		{"deleted since", []transfer.Version{marker, pulled}, false},
		{"gone", nil, false},
	} {
		if got := LatestIs(c.versions, "aaa"); got != c.want {
			t.Errorf("%s: LatestIs = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPullStatePending: an entry pulled with --shred-after stays pending
// until a later entry records the shred; other entries are only pulled.
func TestPullStatePending(t *testing.T) {
	s := &pullState{path: filepath.Join(t.TempDir(), "pulled.jsonl"), ident: "x"}
	for _, e := range []pulledEntry{
		{Ident: "x", Key: "a", ETag: "1"},
		{Ident: "x", Key: "b", ETag: "1", ShredPending: true},
		{Ident: "x", Key: "c", ETag: "1", ShredPending: true},
		{Ident: "x", Key: "c", ETag: "1", Shredded: true},
		{Ident: "y", Key: "d", ETag: "1", ShredPending: true},
	} {
		if err := s.add(e); err != nil {
			t.Fatal(err)
		}
	}
	pulled, pending, err := s.load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key             string
		pulled, pending bool
	}{{"a", true, false}, {"b", true, true}, {"c", true, false}, {"d", false, false}} {
		k := stateKey("x", c.key, "1")
		if pulled[k] != c.pulled || pending[k] != c.pending {
			t.Errorf("%s: pulled %v pending %v, want %v %v", c.key, pulled[k], pending[k], c.pulled, c.pending)
		}
	}
}
