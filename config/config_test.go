package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"0": 0, "5MiB": 5 << 20, "64MB": 64e6, "1GiB": 1 << 30, "123": 123, "16 KiB": 16 << 10, "7B": 7}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5GiB", "5 parsecs", "99999999999TiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestParseRate(t *testing.T) {
	good := map[string]int64{"0": 0, "20MiB/s": 20 << 20, "20MiB": 20 << 20, "500KB/s": 500e3, " 1 MiB/s ": 1 << 20, "65536": 65536}
	for in, want := range good {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/s", "-1MiB/s", "20MiB/h", "20Mbit/s", "fast"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{"90m": 90 * time.Minute, "12h": 12 * time.Hour, "30d": 30 * 24 * time.Hour, "1h30m": 90 * time.Minute}
	for in, want := range good {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-3d", "1.5d", "3w", "-1h"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	os.WriteFile(p, []byte("bucket = \"exchange\"\nrecipients = [\"age1x\"]\nconcurrency = 3\n"), 0o600)
	f, err := Load(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if f.Bucket != "exchange" || len(f.Recipients) != 1 || f.Concurrency != 3 {
		t.Fatalf("got %+v", f)
	}

	os.WriteFile(p, []byte("bukket = \"typo\"\n"), 0o600)
	if _, err := Load(p, false); err == nil || !strings.Contains(err.Error(), "unknown setting bukket") {
		t.Fatalf("unknown key: %v", err)
	}
	os.WriteFile(p, []byte("bucket = \n"), 0o600)
	if _, err := Load(p, false); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("syntax error: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), true); err != nil {
		t.Fatalf("optional missing file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), false); err == nil {
		t.Fatal("explicit missing file accepted")
	}
}
