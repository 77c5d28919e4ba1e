package cmd

import (
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// NewRootCommand returns xfer's command tree as Run builds it, including
// the completion command that cobra adds when it executes, for generating
// the CLI reference, man pages and shell completions. It is bound to a
// neutral Env (no environment, no terminal, output discarded), so that
// nothing of the machine it runs on reaches the generated files through
// it. Flag help that reads the process's environment directly (the
// default --config path) is the caller's to pin.
//
// The tree is for reading; executing it runs none of Run's error handling.
func NewRootCommand() *cobra.Command {
	a := newApp(&Env{
		Stdin:  strings.NewReader(""),
		Stdout: io.Discard, Stderr: io.Discard,
		Getenv:     func(string) string { return "" },
		IsTerminal: func(*os.File) bool { return false },
	})
	root := a.newRootCommand()
	root.InitDefaultCompletionCmd()
	return root
}
