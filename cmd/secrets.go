package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/xfer-dev/xfer/secret"
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
		// A command's own switch of that name (keygen --zip-password) is
		// a bool: it carries no value, so there is nothing to refuse.
		if f := c.Flags().Lookup(name); f != nil && f.Changed && f.Value.Type() != "bool" {
			return withHint(usagef("--%s is refused: a secret on the command line is visible to other users of this machine", name), "use %s", instead)
		}
	}
	return nil
}

// scrubFlagError replaces a flag parsing error about one of the secret
// flags' names (keygen --zip-password=VALUE): the parser's message would
// repeat the value, which may be a secret.
func scrubFlagError(err error) error {
	for name, instead := range secretFlags {
		if strings.Contains(err.Error(), `"--`+name+`"`) {
			return withHint(usagef("--%s takes no value here (the value is not shown: it may be a secret)", name), "a secret is given with %s", instead)
		}
	}
	return err
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
// whether that is an error. Whatever the source, the secret is one line of
// visible characters (secret.CheckShape), or it is refused (exit 6) before
// anything uses it.
func (a *app) secret(c *cobra.Command, s secretSpec) ([]byte, error) {
	path := ""
	if f := c.Flags().Lookup(s.fileFlag); f != nil && f.Changed {
		path = f.Value.String()
	} else if v := a.env.Getenv(s.env); v != "" {
		return envSecret(s.what, s.env, v)
	} else {
		path = s.cfgFile
	}
	if path != "" {
		return a.readSecretFile(s.what, path)
	}
	if !a.isTerminal(a.env.Stdin) {
		return nil, nil
	}
	pw, err := a.prompt(s)
	if err == nil {
		err = secret.CheckShape(s.what, pw)
	}
	return pw, err
}

// envSecret checks a secret held by the environment variable env: it is
// the secret itself, so there is nothing to decode, but it must be what a
// person can type (secret.CheckShape).
func envSecret(what, env, v string) ([]byte, error) {
	if err := secret.CheckShape(what, []byte(v)); err != nil {
		return nil, withHint(fmt.Errorf("%s: %w", env, err), "set %s to the %s exactly as it is typed", env, what)
	}
	return []byte(v), nil
}

// readSecretFile reads a zip password or passphrase file (loadSecretFile)
// and warns when others may read it.
func (a *app) readSecretFile(what, path string) ([]byte, error) {
	pw, err := loadSecretFile(what, path)
	if err != nil {
		return nil, err
	}
	a.warnExposed(what+" file", path)
	return pw, nil
}

// loadSecretFile reads a zip password or passphrase file: the whole file,
// less one line end, as whatever editor saved it (secret.Parse). An empty
// file is a usage error (2), a secret nobody could type is refused (6).
func loadSecretFile(what, path string) ([]byte, error) {
	pw, err := secret.ReadSecretFile(what, path)
	switch {
	case errors.Is(err, secret.ErrEmpty):
		return nil, usagef("the %s file %s is empty", what, path)
	case errors.Is(err, secret.ErrPolicy):
		return nil, withHint(fmt.Errorf("the %s file %s: %w", what, path, err), "%s", secretFileHint)
	case err != nil:
		return nil, usagef("reading the %s file: %w", what, err)
	}
	return pw, nil
}

// secretFileHint says how a secret file is read, for a file xfer refused.
const secretFileHint = "the file must hold the secret on one line, exactly as typed: one line end at the end is allowed, " +
	"and UTF-8 (with or without BOM) or UTF-16 with BOM, as Notepad and PowerShell save it"

// warnExposed warns about a secret or key file that other users may read.
// Every command warns through it (doctor reports the same finding), so that
// the judgement (secret.Exposed) lives in one place.
func (a *app) warnExposed(what, path string) {
	if how, fix := secret.Exposed(path); how != "" {
		a.warn("%s %s is readable by other users (%s); run: %s", what, path, how, fix)
	}
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
