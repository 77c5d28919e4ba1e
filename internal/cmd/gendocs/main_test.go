package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func generateAll(t *testing.T, dir string) []fileSet {
	t.Helper()
	sets, err := generate(filepath.Join(dir, "cli"), filepath.Join(dir, "man"), filepath.Join(dir, "completions"))
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

func TestDeterministicAndNeutral(t *testing.T) {
	// Whatever this machine's environment says must not reach the pages.
	t.Setenv("HOME", "/home/leaky-home")
	t.Setenv("XDG_CONFIG_HOME", "/leaky-config")
	t.Setenv("XDG_CACHE_HOME", "/leaky-cache")
	t.Setenv("XFER_BUCKET", "leaky-bucket")
	t.Setenv("SOURCE_DATE_EPOCH", "1234567890")
	host, _ := os.Hostname()

	a, b := generateAll(t, "x"), generateAll(t, "x")
	for i, s := range a {
		if len(s.files) == 0 {
			t.Errorf("%s: nothing generated", s.dir)
		}
		for name, content := range s.files {
			if !bytes.Equal(content, b[i].files[name]) {
				t.Errorf("%s/%s differs between two runs", s.dir, name)
			}
			for _, leak := range []string{"leaky", "Auto generated", "2009", "Feb 2009", "1970"} {
				if bytes.Contains(content, []byte(leak)) {
					t.Errorf("%s/%s contains %q", s.dir, name, leak)
				}
			}
			if len(host) >= 4 && bytes.Contains(content, []byte(host)) {
				t.Errorf("%s/%s contains the host name %q", s.dir, name, host)
			}
		}
	}
	md, man := a[0].files, a[1].files
	for _, page := range []string{"xfer.md", "xfer_send.md", "xfer_pull.md", "xfer_completion_bash.md"} {
		if md[page] == nil {
			t.Errorf("no Markdown page %s", page)
		}
	}
	if len(man) != len(md) {
		t.Errorf("%d man pages for %d Markdown pages", len(man), len(md))
	}
	if !bytes.Contains(md["xfer.md"], []byte("default $XDG_CONFIG_HOME/xfer/config.toml")) {
		t.Errorf("xfer.md does not name the default config path as $XDG_CONFIG_HOME/xfer/config.toml")
	}
	// Help text is plain text: an underscore must not start italics.
	if send := string(man["xfer-send.1"]); !strings.Contains(send, `.TH "XFER-SEND" "1" "" "xfer" "xfer manual"`) ||
		strings.Contains(send, `\fI`) || !strings.Contains(send, "AWS_REGION") {
		t.Errorf("xfer-send.1 header or text is mangled:\n%s", send)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	sets := generateAll(t, dir)[:2] // Markdown and man, as CI checks them
	for _, s := range sets {
		if err := s.write(); err != nil {
			t.Fatal(err)
		}
	}
	problems := func() string {
		var all []string
		for _, s := range sets {
			p, err := s.check()
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, p...)
		}
		return strings.Join(all, "\n")
	}
	if p := problems(); p != "" {
		t.Fatalf("fresh files reported:\n%s", p)
	}

	cli, man := filepath.Join(dir, "cli"), filepath.Join(dir, "man")
	os.WriteFile(filepath.Join(cli, "notes.md"), []byte("not generated, not owned"), 0o644)
	os.WriteFile(filepath.Join(cli, "xfer_send.md"), []byte("## xfer send\n\nold text\n"), 0o644)
	os.Remove(filepath.Join(man, "xfer-pull.1"))
	os.WriteFile(filepath.Join(man, "xfer-gone.1"), []byte(".TH gone\n"), 0o644)
	p := problems()
	for _, want := range []string{
		filepath.Join(cli, "xfer_send.md") + " is stale (first difference on line 3)",
		filepath.Join(man, "xfer-pull.1") + " is missing",
		filepath.Join(man, "xfer-gone.1") + " documents a command that no longer exists",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("problems lack %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "notes.md") {
		t.Errorf("a file gendocs does not own was reported:\n%s", p)
	}

	for _, s := range sets {
		if err := s.write(); err != nil {
			t.Fatal(err)
		}
	}
	if p := problems(); p != "" {
		t.Fatalf("after writing again:\n%s", p)
	}
	if _, err := os.Stat(filepath.Join(cli, "notes.md")); err != nil {
		t.Errorf("write removed a file it does not own: %v", err)
	}
}
