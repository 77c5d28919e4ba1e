package cmd

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/xfer-dev/xfer/exchange"
)

// meter shows the progress of one transfer the way the output mode asks:
// a bar on a terminal, a plain line every few seconds otherwise, NDJSON
// events with --json, nothing with --quiet or --no-progress.
type meter struct {
	a      *app
	label  string
	total  atomic.Int64
	done   atomic.Int64
	bar    *progressbar.ProgressBar
	tick   ticker
	start  time.Time
	finish sync.Once
}

// lineInterval is how often progress is printed when stderr is no terminal.
const lineInterval = 5 * time.Second

// startMeter begins showing progress of total bytes, already of which were
// done before this run (a resumed transfer starts there).
func (a *app) startMeter(label string, total, already int64) *meter {
	label = escapeLine(label)
	m := &meter{a: a, label: label, start: time.Now()}
	m.done.Store(already)
	m.total.Store(total)
	switch {
	case a.quiet || a.noProgress:
	case a.json:
		m.tick.start(time.Second, func() {
			// Of an item of several at once (forEach): out at once.
			a.live().emit(map[string]any{"event": "progress", "label": label, "bytes": m.done.Load(), "total": m.total.Load()})
		})
	case a.isTerminal(a.env.Stderr):
		m.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(a.env.Stderr),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		m.bar.Set64(already)
	default:
		m.tick.start(lineInterval, func() {
			d, t := m.done.Load(), m.total.Load()
			if t < 0 {
				fmt.Fprintf(a.env.Stderr, "xfer: %s: %s\n", label, humanBytes(d))
				return
			}
			fmt.Fprintf(a.env.Stderr, "xfer: %s: %s of %s (%d%%)\n", label, humanBytes(d), humanBytes(t), percent(d, t))
		})
	}
	return m
}

// ticker calls a function at an interval in a goroutine of its own until
// stopped.
type ticker struct {
	done chan struct{}
	wg   sync.WaitGroup
}

// start calls f every interval until stop.
func (t *ticker) start(every time.Duration, f func()) {
	t.done = make(chan struct{})
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				f()
			case <-t.done:
				return
			}
		}
	}()
}

// stop ends the calls, if started, and waits for one under way.
func (t *ticker) stop() {
	if t.done != nil {
		close(t.done)
		t.wg.Wait()
		t.done = nil
	}
}

// Add records n more bytes done. It is safe for concurrent use.
func (m *meter) Add(n int64) {
	m.done.Add(n)
	if m.bar != nil {
		m.bar.Add64(n)
	}
}

// Progress implements transfer.Progress: done bytes of total (-1 while
// unknown), of which resumed were done before this run.
func (m *meter) Progress(done, resumed, total int64) {
	prev := m.done.Swap(done)
	if total != m.total.Load() {
		m.total.Store(total)
		if m.bar != nil {
			m.bar.ChangeMax64(total)
		}
	}
	if m.bar != nil && done != prev {
		m.bar.Set64(done)
	}
}

// Finish stops the display. It is safe to call more than once.
func (m *meter) Finish() {
	m.finish.Do(func() {
		m.tick.stop()
		if m.bar != nil {
			m.bar.Finish()
		}
	})
}

func percent(d, total int64) int64 {
	if total <= 0 {
		return 100
	}
	return d * 100 / total
}

// humanBytes formats a byte count with binary units: "1.5 GiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// reporter shows what the exchange reports: meters as startMeter draws
// them, warnings as warn prints them.
func (a *app) reporter() exchange.Reporter { return cliReporter{a} }

type cliReporter struct{ a *app }

func (r cliReporter) Transfer(label string) exchange.Meter { return r.a.startMeter(label, -1, 0) }
func (r cliReporter) Warn(format string, args ...any)      { r.a.warn(format, args...) }
func (r cliReporter) Step(format string, args ...any)      { r.a.step(format, args...) }
