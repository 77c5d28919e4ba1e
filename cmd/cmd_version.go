package cmd

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Stamped at release time by goreleaser's ldflags (goreleaser.yaml):
//
//	-X github.com/xfer-dev/xfer/cmd.version=v1.2.3
//	-X github.com/xfer-dev/xfer/cmd.commit=<full commit hash>
//	-X github.com/xfer-dev/xfer/cmd.date=<commit time, RFC 3339>
//
// A build without them (`go install`, `go build`) reads the same facts
// from the build information the go command records.
var version, commit, date string

// Build identifies the build of xfer that runs, so support can tell which
// one a client has.
type Build struct {
	Version  string // v1.2.3, a pseudo-version, or "devel"
	Commit   string // full commit hash; "" when unknown (a `go install` of a tagged version)
	Date     string // the commit's time, RFC 3339 (reproducible builds take it as the build date); "" when unknown
	Modified bool   // built from a work tree with uncommitted changes
}

// CurrentBuild is the running binary's Build.
func CurrentBuild() Build {
	bi, _ := debug.ReadBuildInfo()
	return buildOf(version, commit, date, bi)
}

// Version is xfer's version: the stamped one, else the module version of a
// `go install`, else "devel".
func Version() string { return CurrentBuild().Version }

// pseudoVersion matches the tail of a Go pseudo-version
// (v0.0.0-20261202224000-1cfddf6d2cbe, v1.2.4-0.20261202224000-1cfddf6d2cbe),
// optionally +dirty: its UTC commit time and the commit hash's 12-digit prefix.
var pseudoVersion = regexp.MustCompile(`[-.](\d{14})-([0-9a-f]{12})(\+[0-9A-Za-z.-]+)?$`)

// buildOf combines the stamped values with the go command's build
// information (which may be nil): a stamped value wins; else the VCS
// settings `go build` records in a checkout (vcs.revision, vcs.time,
// vcs.modified); else what a pseudo-version names (`go install M@commit`).
func buildOf(version, commit, date string, bi *debug.BuildInfo) Build {
	b := Build{Version: version, Commit: commit, Date: date}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	stamped := commit != ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.time":
			if b.Date == "" {
				b.Date = s.Value
			}
		case "vcs.modified":
			if !stamped {
				b.Modified = s.Value == "true"
			}
		}
	}
	if m := pseudoVersion.FindStringSubmatch(b.Version); m != nil {
		if b.Commit == "" {
			b.Commit = m[2]
		}
		if b.Date == "" {
			t := m[1]
			b.Date = t[0:4] + "-" + t[4:6] + "-" + t[6:8] + "T" + t[8:10] + ":" + t[10:12] + ":" + t[12:14] + "Z"
		}
		if strings.Contains(m[3], "dirty") {
			b.Modified = true
		}
	}
	return b
}

// String is the one line `xfer version` and `xfer --version` print:
// xfer v1.2.3 (commit 1cfddf6d2cbe of 2026-12-02T22:40:00Z, go1.26.8 linux/amd64).
func (b Build) String() string {
	var parts []string
	switch {
	case b.Commit != "" && b.Date != "":
		parts = append(parts, fmt.Sprintf("commit %.12s of %s", b.Commit, b.Date))
	case b.Commit != "":
		parts = append(parts, fmt.Sprintf("commit %.12s", b.Commit))
	case b.Date != "":
		parts = append(parts, "of "+b.Date)
	}
	if b.Modified {
		parts = append(parts, "modified")
	}
	parts = append(parts, fmt.Sprintf("%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH))
	return fmt.Sprintf("xfer %s (%s)", b.Version, strings.Join(parts, ", "))
}

func (a *app) newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print xfer's version, commit and build date",
		Long: `Print xfer's version, the commit it was built from and that commit's date
(a release is built reproducibly: its build date is its commit's), the Go
version and the platform, on one line; with --json as an NDJSON event.
'xfer --version' prints the same line. Reads no environment.

A build made with 'go install' or 'go build' reports what the go command
recorded: the module version, and the commit and its date when it was built
from a git checkout or a pseudo-version; "modified" marks a build from a
work tree with uncommitted changes.`,
		Example: `  xfer version
  xfer --version
  xfer version --json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := CurrentBuild()
			ev := map[string]any{"event": "version", "version": b.Version, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH}
			if b.Commit != "" {
				ev["commit"] = b.Commit
				ev["modified"] = b.Modified
			}
			if b.Date != "" {
				ev["date"] = b.Date
			}
			a.result(ev, "%s", b)
			return nil
		},
	}
}
