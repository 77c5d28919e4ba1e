package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

// FuzzVerify feeds arbitrary logs and heads to the verifier: it must never
// panic, must name a line within the log (or one past it), and must count
// every line as good when it reports none bad.
func FuzzVerify(f *testing.F) {
	path := newLog(f, 3)
	log, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	headFile, err := os.ReadFile(path + ".head")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(log, headFile)
	f.Add(log, []byte(nil))
	f.Add(log[:len(log)/2], headFile)
	f.Add(bytes.Replace(log, []byte(`"seq":2`), []byte(`"seq":3`), 1), headFile)
	f.Add([]byte("{}\n"), []byte(`{"v":1,"seq":1,"line_sha256":""}`))
	f.Add(bytes.Repeat([]byte("x"), MaxLineSize+10), headFile)
	f.Fuzz(func(t *testing.T, log, hb []byte) {
		var h *head
		var herr error
		if hb != nil {
			h, herr = parseHead(hb)
		}
		res, err := walk(context.Background(), bytes.NewReader(log), h, herr)
		lines := bytes.Count(log, []byte("\n"))
		if len(log) > 0 && log[len(log)-1] != '\n' {
			lines++
		}
		var brk *BreakError
		switch {
		case err == nil:
			if res.Events != lines {
				t.Fatalf("verified %d events of %d lines", res.Events, lines)
			}
		case errors.As(err, &brk):
			if brk.Line < 1 || brk.Line > lines+1 || res.Events != brk.Line-1 {
				t.Fatalf("break at line %d of %d, %d events", brk.Line, lines, res.Events)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
