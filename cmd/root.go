// Package cmd is xfer's command-line interface: the Cobra tree, flags,
// configuration, secrets and prompts, progress and output formats, and the
// exit codes. It is wiring only; the work happens in the packages it calls.
package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/s3store"
)

// Main runs xfer with the process's arguments and streams and returns the
// exit code. SIGINT and SIGTERM cancel the work in progress.
func Main() int { return mainTo(os.Stdout) }

// mainTo is Main with standard output going to stdout (the tests check
// the events it carries).
func mainTo(stdout io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel(errSignal)
		signal.Stop(sigs) // a second signal kills at once
	}()
	defer cancel(nil)
	return Run(ctx, os.Args[1:], &Env{
		Stdin: os.Stdin, Stdout: stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, IsTerminal: func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) },
	})
}

// Env is what a run of xfer sees of its process, so tests can run it in
// process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// IsTerminal tells whether f is a terminal; stdio that are not
	// *os.File are never terminals.
	IsTerminal func(f *os.File) bool
	// OpenStore opens the exchange bucket; nil means s3store.New. Tests
	// give an in-memory store here.
	OpenStore func(ctx context.Context, o s3store.Options) (transfer.Store, error)
	// Now is the clock sweep judges expiry by; nil means time.Now. Tests
	// give a later time here instead of waiting for it.
	Now func() time.Time
}

// now is the time by the run's clock (Env.Now).
func (a *app) now() time.Time {
	if a.env.Now != nil {
		return a.env.Now()
	}
	return time.Now()
}

// app holds one run's global options and lazily built dependencies, so
// --help and usage errors never read configuration or secrets.
type app struct {
	env        *Env
	configPath string
	json       bool
	quiet      bool
	noProgress bool
	verbose    bool
	debug      bool
	logPath    string
	logFile    *logFile // --log-file, once opened

	// cmd is the command running, for settings read outside its RunE
	// (the audit log's path).
	cmd *cobra.Command

	*shared
	// parent is the app an item's app was made from (see itemApp); nil
	// for the run's own.
	parent *app
}

// shared is what every app of one run shares, the items' apps of a run
// over several files too (see itemApp).
type shared struct {
	cfgOnce sync.Once
	cfg     *config.File
	cfgErr  error

	// outMu keeps lines written from several goroutines whole.
	outMu sync.Mutex
	// auditMu makes the audit log's appends of one process take turns
	// (the file lock orders processes, by polling).
	auditMu sync.Mutex
}

// newApp is a run's app, on env.
func newApp(env *Env) *app { return &app{env: env, shared: &shared{}} }

// Run executes one xfer command line and returns its exit code.
func Run(ctx context.Context, args []string, env *Env) int {
	a := newApp(env)
	root := a.newRootCommand()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	ran := false
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		ran = true
		a.cmd = c
		if err := refuseSecretFlags(c); err != nil {
			return err
		}
		return a.setUpLogging()
	}
	err := root.ExecuteContext(ctx)
	if a.logFile != nil {
		defer a.logFile.Close()
	}
	if err != nil && !ran {
		err = usageError{err} // cobra's own errors: unknown command, bad arguments
	}
	code := exitCode(ctx, err)
	if err != nil {
		if code == exitSignal {
			err = fmt.Errorf("%w; state is kept, run the same command again to continue", errSignal)
		}
		if !errors.As(err, new(reported)) {
			printError(env.Stderr, err)
		}
		if errors.As(err, new(usageError)) && !ran {
			fmt.Fprintln(env.Stderr, "xfer: hint: see 'xfer --help'")
		}
	}
	if a.json && (ran || err != nil) {
		summary := map[string]any{"event": "summary", "ok": err == nil, "exit_code": code}
		if err != nil {
			summary["error"] = err.Error()
		}
		a.emit(summary)
	}
	return code
}

func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "xfer",
		Short: "Seal address files and move them through an S3 exchange bucket",
		Long: `xfer moves postal-marketing address files (CSV) between a client and a mailing
house through an S3 exchange bucket, sealed so that nobody in between can read
them: a password-protected AES-256 zip inside an age (or AES-256-GCM) layer.

Settings come from flags, then XFER_* environment variables, then the
configuration file (TOML), then defaults; 'xfer doctor' checks them. Exit codes
are documented (0 ok, 1 other failure, 2 usage or configuration, 3
authentication, 4 integrity, 5 interrupted with state kept, 6 input rejected,
130 signal), so cron jobs can act on them.

Environment: XFER_CONFIG, XFER_ENDPOINT, XFER_BUCKET, XFER_PREFIX,
XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_CA_FILE, AWS_REGION and the standard
AWS credential variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, ...), XDG_CONFIG_HOME and XDG_CACHE_HOME.`,
		Example: `  xfer keygen -o mailhouse.key                    # the mailing house, once
  xfer send addresses.csv -R mailhouse.pub         # the client
  xfer pull --all -d incoming -i mailhouse.key     # the mailing house, from cron
  xfer doctor                                      # what is wrong with the set-up`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{scrubFlagError(err)} })
	// --version prints the line `xfer version` prints. The flag is declared
	// here, before cobra would add its own, because cobra's takes -v, which
	// is kept for --verbose.
	root.Version = CurrentBuild().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, "print xfer's version, commit and build date, as 'xfer version' does")
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "configuration file (env XFER_CONFIG; default "+config.DefaultPath()+")")
	pf.BoolVar(&a.json, "json", false, "print NDJSON events on stdout, the last line a summary object")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print nothing but errors")
	pf.BoolVar(&a.noProgress, "no-progress", false, "do not show progress")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "print each file's steps and how long they took on standard error (names, counts and times, never contents or secrets)")
	pf.BoolVar(&a.debug, "debug", false, "log every HTTP request and response line and each retry (no headers, bodies or secrets), to --log-file or else standard error")
	pf.StringVar(&a.logPath, "log-file", "", "append what goes to standard error, time-stamped, and the --debug lines to FILE (created 0600)")
	addSecretTraps(root)
	root.AddCommand(
		a.newKeygenCommand(),
		a.newEncryptCommand(),
		a.newDecryptCommand(),
		a.newSendCommand(),
		a.newListCommand(),
		a.newFetchCommand(),
		a.newPullCommand(),
		a.newShredCommand(),
		a.newSweepCommand(),
		a.newDoctorCommand(),
		a.newBucketCommand(),
		a.newSuppressCommand(),
		a.newAuditCommand(),
		a.newVersionCommand(),
	)
	return root
}

// config loads the configuration file once: --config, else XFER_CONFIG,
// else the default path (which may be absent).
func (a *app) config() (*config.File, error) {
	a.cfgOnce.Do(func() {
		path, optional := a.configPath, false
		if path == "" {
			path = a.env.Getenv("XFER_CONFIG")
		}
		if path == "" {
			path, optional = config.DefaultPath(), true
		}
		a.cfg, a.cfgErr = config.Load(path, optional)
		if a.cfgErr != nil {
			a.cfgErr = usageError{a.cfgErr}
		}
	})
	return a.cfg, a.cfgErr
}

// setting resolves one string setting: flag > environment > file > default.
func (a *app) setting(c *cobra.Command, flag, env, file, def string) string {
	if f := c.Flags().Lookup(flag); f != nil && f.Changed {
		return f.Value.String()
	}
	if env != "" {
		if v := a.env.Getenv(env); v != "" {
			return v
		}
	}
	if file != "" {
		return file
	}
	return def
}

// reportFailure prints the failure of one item of a run over several (its
// NDJSON event names it under field: "file" for send, "name" otherwise) and
// returns the worse of err and worst, by exit code.
func (a *app) reportFailure(ctx context.Context, field, name string, err, worst error) error {
	printError(a.env.Stderr, fmt.Errorf("%s: %w", shown(name), err))
	if a.json {
		a.emit(map[string]any{"event": "error", field: name, "error": err.Error(), "exit_code": exitCode(ctx, err)})
	}
	if worst == nil || exitCode(ctx, err) > exitCode(ctx, worst) {
		return err
	}
	return worst
}

// emit writes one NDJSON event to stdout, with the version of the event
// format (docs/events.md; every event type and field is in eventSpecs).
func (a *app) emit(v map[string]any) {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	v["v"] = EventVersion
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"event": "error", "v": EventVersion, "error": err.Error(), "exit_code": exitFailure})
	}
	a.env.Stdout.Write(append(b, '\n'))
}

// result reports a command's outcome: an NDJSON event with --json, else the
// human line on stdout unless --quiet.
func (a *app) result(event map[string]any, human string, args ...any) {
	switch {
	case a.json:
		a.emit(event)
	case !a.quiet:
		fmt.Fprintln(a.env.Stdout, escapeLine(fmt.Sprintf(human, args...)))
	}
}

// step prints one step of the work on stderr with --verbose (and not
// --quiet).
func (a *app) step(format string, args ...any) {
	if a.verbose && !a.quiet {
		a.outMu.Lock()
		defer a.outMu.Unlock()
		fmt.Fprintf(a.env.Stderr, "xfer: "+format+"\n", args...)
	}
}

// warn prints a warning on stderr unless --quiet.
func (a *app) warn(format string, args ...any) {
	if !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: warning: %s\n", escapeLine(fmt.Sprintf(format, args...)))
	}
}

// isTerminal reports whether w is a terminal.
func (a *app) isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && a.env.IsTerminal != nil && a.env.IsTerminal(f)
}
