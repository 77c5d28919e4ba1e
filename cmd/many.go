package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// DefaultJobs is how many files send and pull work on at once by default.
// Each file of a run over many small ones spends most of its time waiting
// on round trips (HEAD, create, upload, complete; HEAD, GET, receipt), not
// on the CPU or the link; four hide most of that latency on two cores,
// while a run of a few large files, each already uploading or downloading
// --concurrency parts at once, does not open more connections than a
// server or an office line welcomes.
const DefaultJobs = 4

// maxJobs bounds --jobs: each file in flight holds its own buffers and up
// to --concurrency connections.
const maxJobs = 32

// addJobsFlag adds --jobs, the number of files c works on at once.
func addJobsFlag(c *cobra.Command, what string) {
	c.Flags().Int("jobs", 0, fmt.Sprintf("%s at once, 1 to %d; the output stays in the order of the files (default from config, else %d)", what, maxJobs, DefaultJobs))
}

// jobsSetting resolves --jobs: flag, else the configuration's jobs, else
// DefaultJobs.
func (a *app) jobsSetting(c *cobra.Command) (int, error) {
	cfg, err := a.config()
	if err != nil {
		return 0, err
	}
	n := cfg.Jobs
	if f := c.Flags().Lookup("jobs"); f != nil && f.Changed {
		n, _ = c.Flags().GetInt("jobs")
		if n == 0 {
			return 0, usagef("--jobs 0: use 1 to %d", maxJobs)
		}
	}
	if n == 0 {
		n = DefaultJobs
	}
	if n < 1 || n > maxJobs {
		return 0, usagef("--jobs %d: use 1 to %d", n, maxJobs)
	}
	return n, nil
}

// manyItem is one file of a run over several.
type manyItem struct {
	// name is the file as the failure names it (reportFailure).
	name string
	// key is what two items must not work on at once (the object's
	// key): the second waits for the first, as if they ran in turn.
	key string
}

// forEach runs work for each of items, and reports each failure as
// reportFailure does (naming the item under field); it returns the worst
// failure, nil when all went well.
//
// With jobs 1 the items run one after another on a itself, their output
// written as it comes. With more, up to jobs run at once, each on an app
// of its own (itemApp) whose standard output and error are buffers,
// written out whole in the order of items as soon as every earlier item's
// have been: lines never interleave, and the output reads as a run in
// turn would write it. Only the progress differs: each file's meter gives
// way to one of the files done (a bar on a terminal, a line every few
// seconds otherwise), while with --json each file's progress events go out
// as they come (their label names the file). Once ctx is cancelled (a
// signal), no item starts; those in flight end as their work does.
func (a *app) forEach(ctx context.Context, field string, jobs int, items []manyItem, verb string, work func(a *app, i int) error) error {
	var worst error
	worse := func(err error) {
		if worst == nil || exitCode(ctx, err) > exitCode(ctx, worst) {
			worst = err
		}
	}
	if jobs <= 1 || len(items) <= 1 {
		for i, it := range items {
			if err := work(a, i); err != nil {
				worst = a.reportFailure(ctx, field, it.name, err, worst)
			}
		}
		return worst
	}
	type slot struct {
		out, errs bytes.Buffer
		err       error
		done      bool
		started   bool
	}
	slots := make([]slot, len(items))
	m := a.startFilesMeter(verb, len(items))
	defer m.Finish()
	var (
		mu   sync.Mutex // guards slots and next
		next int        // the first item not written out yet
		wg   sync.WaitGroup
	)
	// flush writes out, in order, every finished item no earlier item
	// holds back. It is called with mu held.
	flush := func() {
		for next < len(slots) && slots[next].done {
			s := &slots[next]
			m.Print(func() {
				a.outMu.Lock()
				a.env.Stdout.Write(s.out.Bytes())
				a.env.Stderr.Write(s.errs.Bytes())
				a.outMu.Unlock()
			})
			if s.err != nil {
				worse(s.err)
			}
			s.out, s.errs = bytes.Buffer{}, bytes.Buffer{}
			next++
		}
	}
	sem := make(chan struct{}, jobs)
	last := map[string]chan struct{}{} // per key, closed when its latest item is done
	for i, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		var before chan struct{}
		mine := make(chan struct{})
		if it.key != "" {
			before = last[it.key]
			last[it.key] = mine
		}
		mu.Lock()
		slots[i].started = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(mine)
			defer func() { <-sem }()
			if before != nil {
				// The same object as an earlier item: after it, as in turn.
				<-before
			}
			s := &slots[i]
			ia := a.itemApp(&s.out, &s.errs)
			err := work(ia, i)
			if err != nil {
				ia.reportFailure(ctx, field, it.name, err, nil)
			}
			m.Done()
			mu.Lock()
			s.err, s.done = err, true
			flush()
			mu.Unlock()
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// Items never started (a signal) are not waited for.
	for i := range slots {
		if !slots[i].started {
			slots[i].done = true
		}
	}
	flush()
	return worst
}

// itemApp is an app for one item of forEach: output and errors go to the
// given buffers, and each file's progress meter is off but for --json
// progress events, which go out at once (see startMeter).
func (a *app) itemApp(stdout, stderr io.Writer) *app {
	ia := *a
	env := *a.env
	env.Stdout, env.Stderr = stdout, stderr
	ia.env, ia.parent = &env, a
	if !a.json {
		ia.noProgress = true
	}
	return &ia
}

// live is the app whose output reaches the user as it is written: the
// run's own, not an item's.
func (a *app) live() *app {
	for a.parent != nil {
		a = a.parent
	}
	return a
}

// filesMeter shows how many of a run's files are done while several run
// at once: a bar on a terminal, a line every few seconds otherwise,
// nothing with --json (each file's own progress events go out),
// --quiet or --no-progress.
type filesMeter struct {
	a     *app
	verb  string
	total int

	mu   sync.Mutex // guards done and bar, and the terminal
	done int
	bar  *progressbar.ProgressBar
	tick ticker
	once sync.Once
}

func (a *app) startFilesMeter(verb string, total int) *filesMeter {
	m := &filesMeter{a: a, verb: verb, total: total}
	switch {
	case a.quiet || a.noProgress || a.json:
	case a.isTerminal(a.env.Stderr):
		m.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(a.env.Stderr),
			progressbar.OptionSetDescription(verb),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("files"),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		m.bar.RenderBlank()
	default:
		m.tick.start(lineInterval, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			a.outMu.Lock()
			defer a.outMu.Unlock()
			fmt.Fprintf(a.env.Stderr, "xfer: %s: %d of %d files done\n", verb, m.done, m.total)
		})
	}
	return m
}

// Done counts one more file done.
func (m *filesMeter) Done() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done++
	if m.bar != nil {
		m.bar.Add(1)
	}
}

// Print runs write, which writes whole lines, with the bar out of its way.
func (m *filesMeter) Print(write func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bar != nil {
		m.bar.Clear()
	}
	write()
	if m.bar != nil && m.done < m.total {
		m.bar.RenderBlank()
	}
}

// Finish stops the display. It is safe to call more than once.
func (m *filesMeter) Finish() {
	m.once.Do(func() {
		m.tick.stop()
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.bar != nil {
			m.bar.Finish()
			m.bar.Clear()
		}
	})
}
