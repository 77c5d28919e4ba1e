package cmd

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
	"github.com/xfer-dev/xfer/internal/testkit/s3test"
	"github.com/xfer-dev/xfer/internal/testkit/testutil"
)

func TestMain(m *testing.M) {
	// Tests that run xfer as a separate process (to kill it) re-run this
	// binary with XFER_TEST_RUN_MAIN set.
	if os.Getenv("XFER_TEST_RUN_MAIN") != "" {
		os.Exit(checkingMain())
	}
	testscript.Main(eventCheckingM{m}, map[string]func(){
		"xfer": func() { os.Exit(checkingMain()) },
	})
}

// TestScripts runs the local CLI scenarios in testdata/script against the
// real main, with the stock peers (age, 7zz, bsdtar) where a scenario uses
// them.
func TestScripts(t *testing.T) {
	for _, tool := range []string{"age", "age-keygen", "7zz", "bsdtar"} {
		testutil.RequireTool(t, tool)
	}
	testscript.Run(t, scriptParams("testdata/script", nil))
}

// TestExchangeScripts runs the scenarios in testdata/exchange against each
// real S3 server, started on loopback for the run.
func TestExchangeScripts(t *testing.T) {
	testutil.RequireTool(t, "age")
	testutil.RequireTool(t, "7zz")
	servers := map[string]func(testing.TB) *s3test.Server{
		"minio":     func(t testing.TB) *s3test.Server { return s3test.StartMinIO(t, s3test.MinIOOptions{}) },
		"versitygw": s3test.StartVersityGW,
	}
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			testscript.Run(t, scriptParams("testdata/exchange", func(e *testscript.Env) {
				e.Setenv("XFER_ENDPOINT", srv.Endpoint)
				e.Setenv("XFER_BUCKET", srv.Bucket)
				e.Setenv("XFER_VERSIONED_BUCKET", srv.VersionedBucket)
				// Each script works under its own prefix of the shared bucket.
				e.Setenv("XFER_PREFIX", filepath.Base(e.WorkDir)+"/")
				e.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
				e.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
				e.Setenv("AWS_REGION", srv.Region)
				e.Setenv("SERVER", name)
			}))
		})
	}
}

func scriptParams(dir string, setup func(*testscript.Env)) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			e.Setenv("XDG_CONFIG_HOME", e.WorkDir+"/.config")
			e.Setenv("XDG_CACHE_HOME", e.WorkDir+"/.cache")
			e.Setenv("HOME", e.WorkDir)
			e.Setenv(eventLogEnv, os.Getenv(eventLogEnv))
			if setup != nil {
				setup(e)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"gencsv":   cmdGenCSV,
			"flipbyte": cmdFlipByte,
			"truncate": cmdTruncate,
			"mode":     cmdMode,
			"notemp":   cmdNoTemp,
			"crlf":     cmdCRLF,
			"encode":   cmdEncode,
			"wintext":  cmdWinText,
		},
	}
}

// exitcode N prog args...: run prog and require exit status N; its output
// is then available to stdout/stderr like exec's.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N prog [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// gencsv FILE SIZE: write a realistic address CSV of about SIZE bytes.
func cmdGenCSV(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gencsv FILE SIZE")
	}
	size, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	_, err = addrgen.Write(f, size, 42)
	ts.Check(err)
	ts.Check(f.Close())
}

// flipbyte FILE OFFSET: invert one byte; a negative offset counts from the end.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	off, err := strconv.Atoi(args[1])
	ts.Check(err)
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0xff
	ts.Check(os.WriteFile(path, b, 0o600))
}

// truncate FILE N: cut a file to N bytes; a negative N removes that many.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE N")
	}
	path := ts.MkAbs(args[0])
	fi, err := os.Stat(path)
	ts.Check(err)
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	if n < 0 {
		n += fi.Size()
	}
	ts.Check(os.Truncate(path, n))
}

// mode FILE PERM: require a file's permission bits, in octal.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	if (uint64(fi.Mode().Perm()) == want) == neg {
		ts.Fatalf("%s has mode %o", args[0], fi.Mode().Perm())
	}
}

// notemp DIR: require that no temporary output file is left in DIR.
func cmdNoTemp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: notemp DIR")
	}
	ents, err := os.ReadDir(ts.MkAbs(args[0]))
	ts.Check(err)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), safefile.TempPrefix) {
			ts.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}
