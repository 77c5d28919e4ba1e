package cmd

import "testing"

func TestExchangeIdent(t *testing.T) {
	same := []string{
		"http://127.0.0.1:9000",
		"http://127.0.0.1:9000/",
		"HTTP://127.0.0.1:9000//",
	}
	for _, e := range same {
		if got, want := exchangeIdent(e, "b"), "http://127.0.0.1:9000|b"; got != want {
			t.Errorf("exchangeIdent(%q) = %q, want %q", e, got, want)
		}
	}
	if got, want := exchangeIdent("https://S3.Example.COM:443/", "b"), "https://s3.example.com|b"; got != want {
		t.Errorf("default port, case: got %q, want %q", got, want)
	}
	if got, want := exchangeIdent("http://[::1]:80", "b"), "http://[::1]|b"; got != want {
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
		id := exchangeIdent(c[0], c[1])
		if distinct[id] {
			t.Errorf("%q %q: ident %q not distinct", c[0], c[1], id)
		}
		distinct[id] = true
	}
}
