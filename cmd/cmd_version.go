package cmd

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is stamped at release time: -ldflags "-X github.com/xfer-dev/xfer/cmd.version=v1.2.3".
var version = ""

// Version is xfer's version: the stamped one, else the module version of a
// `go install`, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func (a *app) newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print xfer's version",
		Long: `Print xfer's version, the Go version it was built with, and the platform, on
one line; with --json as an NDJSON event. Reads no environment.`,
		Example: `  xfer version
  xfer version --json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			a.result(map[string]any{"event": "version", "version": Version(), "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH},
				"xfer %s (%s %s/%s)", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
