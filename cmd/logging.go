package cmd

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// A logFile is --log-file: every line xfer writes to standard error is
// also appended to it, time-stamped, and so are the --debug lines, so that
// a scheduler with nowhere to keep standard error (Windows Task Scheduler,
// some cron set-ups) still keeps what happened. It is opened for appending,
// created 0600, and never holds more than standard error would (secrets
// never reach either; --debug lines carry no header or body).
type logFile struct {
	mu   sync.Mutex
	f    *os.File
	part []byte // a line written in pieces, until its newline
	now  func() time.Time
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, usagef("--log-file: %w", err)
	}
	return &logFile{f: f, now: time.Now}, nil
}

// maxLogLine bounds a line held until its newline.
const maxLogLine = 64 << 10

// Write stamps each complete line with the time and appends it. A carriage
// return starts the line afresh: a progress bar redrawing itself leaves
// only what it last drew before a newline.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range p {
		switch {
		case b == '\r':
			l.part = l.part[:0]
		case b == '\n':
			if _, err := fmt.Fprintf(l.f, "%s %s\n", l.now().UTC().Format("2006-01-02T15:04:05.000Z"), l.part); err != nil {
				return len(p), err
			}
			l.part = l.part[:0]
		case len(l.part) < maxLogLine:
			l.part = append(l.part, b)
		}
	}
	return len(p), nil
}

// Close writes what is left of an unfinished line and closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	pending := len(l.part) > 0
	l.mu.Unlock()
	if pending {
		if _, err := l.Write([]byte{'\n'}); err != nil {
			l.f.Close()
			return err
		}
	}
	return l.f.Close()
}

// setUpLogging applies --log-file and --debug once the flags are parsed.
func (a *app) setUpLogging() error {
	if a.logPath != "" {
		lf, err := openLogFile(a.logPath)
		if err != nil {
			return err
		}
		a.logFile = lf
		a.env.Stderr = io.MultiWriter(a.env.Stderr, lf)
	}
	return nil
}

// debugf writes one --debug line: to the log file when there is one
// (standard error stays readable), else to standard error.
func (a *app) debugf(format string, args ...any) {
	if !a.debug {
		return
	}
	line := "xfer: debug: " + escapeLine(fmt.Sprintf(format, args...)) + "\n"
	if a.logFile != nil {
		a.logFile.Write([]byte(line))
		return
	}
	a.outMu.Lock()
	defer a.outMu.Unlock()
	io.WriteString(a.env.Stderr, line)
}
