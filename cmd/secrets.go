package cmd

import (
	"bytes"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// secretFlags are flags people try for secrets. They exist only to be
// refused: a value in argv is visible to every user of the machine (ps,
// /proc, shell history). The refusal never repeats the value.
var secretFlags = map[string]string{
	"zip-password": "--zip-password-file FILE or XFER_ZIP_PASSWORD",
	"passphrase":   "--passphrase-file FILE or XFER_PASSPHRASE",
	"password":     "--zip-password-file FILE or XFER_ZIP_PASSWORD",
}

func addSecretTraps(c *cobra.Command) {
	for name := range secretFlags {
		c.PersistentFlags().String(name, "", "refused: secrets never go on the command line")
		c.PersistentFlags().MarkHidden(name)
	}
}

func refuseSecretFlags(c *cobra.Command) error {
	for name, instead := range secretFlags {
		if f := c.Flags().Lookup(name); f != nil && f.Changed {
			return withHint(usagef("--%s is refused: a secret on the command line is visible to other users of this machine", name), "use %s", instead)
		}
	}
	return nil
}

// secretSpec says where one secret may come from, in order of precedence.
type secretSpec struct {
	what     string // "zip password", "passphrase"
	fileFlag string // the flag naming a file that holds it
	env      string // the environment variable holding it
	cfgFile  string // the file named by the configuration, if any
	confirm  bool   // a prompt asks twice (when choosing a new secret)
}

// secret resolves a secret: the file flag, the environment, the file named
// in configuration, and last a prompt without echo when stdin is a terminal.
// It returns nil, nil when there is no source at all; the caller decides
// whether that is an error.
func (a *app) secret(c *cobra.Command, s secretSpec) ([]byte, error) {
	path := ""
	if f := c.Flags().Lookup(s.fileFlag); f != nil && f.Changed {
		path = f.Value.String()
	} else if v := a.env.Getenv(s.env); v != "" {
		return []byte(v), nil
	} else {
		path = s.cfgFile
	}
	if path != "" {
		return a.readSecretFile(s.what, path)
	}
	if !a.isTerminal(a.env.Stdin) {
		return nil, nil
	}
	return a.prompt(s)
}

// readSecretFile reads a secret from the first line of a file, without its
// line ending.
func (a *app) readSecretFile(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("reading the %s file: %w", what, err)
	}
	if fi, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		a.warn("%s is readable by other users; run: chmod 600 %s", path, path)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return nil, usagef("the %s file %s is empty", what, path)
	}
	return line, nil
}

func (a *app) prompt(s secretSpec) ([]byte, error) {
	fd := int(a.env.Stdin.(*os.File).Fd())
	ask := func(label string) ([]byte, error) {
		fmt.Fprintf(a.env.Stderr, "%s: ", label)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.env.Stderr)
		return b, err
	}
	first, err := ask("Enter " + s.what)
	if err != nil {
		return nil, err
	}
	if len(first) == 0 {
		return nil, usagef("no %s entered", s.what)
	}
	if s.confirm {
		again, err := ask("Repeat " + s.what)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(first, again) {
			return nil, usagef("the two %ss differ", s.what)
		}
	}
	return first, nil
}

// errNoSecret is the error for a secret that has no source where prompting
// is impossible (cron, pipes).
func errNoSecret(s secretSpec) error {
	return withHint(usagef("no %s: none given and no terminal to ask on", s.what),
		"set %s or pass %s FILE (a file with mode 0600)", s.env, "--"+s.fileFlag)
}
