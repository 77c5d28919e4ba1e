package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/secret"
)

type keygenOptions struct {
	output      string
	pub         string
	aes         bool
	zipPassword bool
	show        bool
}

func (a *app) newKeygenCommand() *cobra.Command {
	var o keygenOptions
	c := &cobra.Command{
		Use:   "keygen [-o FILE] [--pub FILE] [--aes | --zip-password [--show]]",
		Short: "Create an age identity (or an AES-256 key file, or a zip password)",
		Long: `Create a new age identity, write its public recipient to a recipients file
beside it (mailhouse.key → mailhouse.pub, or --pub FILE), and print the
recipient on stdout. Give the recipient (age1…) to whoever sends you files;
keep the identity file secret. On stderr (and in --json) goes the recipient's
check code: read it to the sender over the phone; their 'xfer doctor' shows
the same code for the recipient they were given.

With --aes, create a 256-bit key file for --cipher aes256 instead: that key is
symmetric, so it must reach the other side over a channel you trust.

With --zip-password, create a zip password and write it to -o FILE (required):
five-character groups such as Kq7mx-Rm4tz-Hp2wd-Xa9ke, each a capital letter
and four lower-case letters or digits, about 97 bits from the system's secure
random source, without the look-alikes I O i l o 0 1, so that it can be read
out over the phone letter by letter. It is printed on stdout only when stdout
is a terminal, or with --show; never in --json output. Its check code (4
characters) is printed on stderr: both sides compare it to be sure they hold
the same password, without saying it. zip_password_min_length makes it longer.

Every file is written with mode 0600 and never replaces an existing file.
Without -o the identity goes to ` + filepath.Join(config.Dir(), defaultIdentityFile) + ` (or ` + defaultAESKeyFile + `), where decrypt
and pull find it without -i.

Environment: XDG_CONFIG_HOME (where the default key file goes), XFER_CONFIG.`,
		Example: `  xfer keygen -o mailhouse.key                 # and mailhouse.pub, for -R mailhouse.pub
  xfer keygen --aes -o client.aeskey
  xfer keygen --zip-password -o zip.pw`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runKeygen(c, o) },
	}
	f := c.Flags()
	f.StringVarP(&o.output, "output", "o", "", "write the key (or zip password) to FILE")
	f.StringVar(&o.pub, "pub", "", "write the recipient to FILE (default: the key file's name with .pub)")
	f.BoolVar(&o.aes, "aes", false, "create an AES-256 key file instead of an age identity")
	f.BoolVar(&o.zipPassword, "zip-password", false, "create a zip password file instead of a key")
	f.BoolVar(&o.show, "show", false, "with --zip-password: print the password on stdout even when it is not a terminal")
	return c
}

// pubPath is where keygen writes the recipient of the identity at path:
// mailhouse.key → mailhouse.pub, identity.txt → identity.pub, k → k.pub.
func pubPath(path string) string {
	for _, ext := range []string{".key", ".txt"} {
		if base, ok := strings.CutSuffix(path, ext); ok && base != "" && !os.IsPathSeparator(base[len(base)-1]) {
			return base + ".pub"
		}
	}
	return path + ".pub"
}

func (a *app) runKeygen(c *cobra.Command, o keygenOptions) error {
	switch {
	case o.aes && o.zipPassword:
		return usagef("--aes and --zip-password exclude each other")
	case o.pub != "" && (o.aes || o.zipPassword):
		return usagef("--pub is for age identities: an AES key or a zip password has no public part")
	case o.show && !o.zipPassword:
		return usagef("--show is for --zip-password")
	case o.output == "-" || o.pub == "-":
		return usagef("keys are written to a file, never to stdout: give -o FILE")
	}
	if o.zipPassword {
		return a.runKeygenZipPassword(o)
	}
	path := o.output
	if path == "" {
		name := defaultIdentityFile
		if o.aes {
			name = defaultAESKeyFile
		}
		path = filepath.Join(config.Dir(), name)
		if err := fileperm.MkdirAll(config.Dir()); err != nil {
			return err
		}
	}
	created := time.Now()
	if o.aes {
		key, err := crypt.GenerateAESKey()
		if err != nil {
			return err
		}
		if err := writeNew(newFile{path, key.KeyFile(created)}); err != nil {
			return err
		}
		keyID := key.KeyID()
		event := map[string]any{"event": "keygen", "kind": string(crypt.CipherAES256), "file": path, "key_id": keyID}
		a.result(event, "AES-256 key %s written to %s", keyID, path)
		return nil
	}

	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	public := id.Recipient().String()
	code := secret.RecipientCheckCode(public)
	pub := o.pub
	if pub == "" {
		pub = pubPath(path)
	}
	stamp := created.UTC().Format(time.RFC3339)
	content := fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n", stamp, public, id)
	pubContent := fmt.Appendf(nil, "# xfer recipient, created %s, check code %s\n%s\n", stamp, code, public)
	if err := writeNew(newFile{path, content}, newFile{pub, pubContent}); err != nil {
		return err
	}
	if a.json {
		a.emit(map[string]any{"event": "keygen", "kind": "age", "file": path, "pub_file": pub, "recipient": public, "check_code": code})
		return nil
	}
	// The recipient is the command's output, so it is printed even with -q.
	fmt.Fprintln(a.env.Stdout, public)
	if !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: identity written to %s, recipient to %s\n", path, pub)
		fmt.Fprintf(a.env.Stderr, "xfer: recipient check code: %s (read it to the sender by phone: their 'xfer doctor' shows it)\n", code)
	}
	return nil
}

// runKeygenZipPassword makes a zip password file. The password reaches
// stdout only on a terminal or with --show, and never JSON.
func (a *app) runKeygenZipPassword(o keygenOptions) error {
	if o.output == "" {
		return withHint(usagef("--zip-password needs -o FILE"), "for example: xfer keygen --zip-password -o zip.pw, then zip_password_file = \"/full/path/zip.pw\" in the config")
	}
	if o.show && a.json {
		return usagef("--show and --json exclude each other: a password never goes into JSON output")
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if cfg.ZipPasswordMinLength != 0 && cfg.ZipPasswordMinLength < secret.MinPasswordLength {
		return usagef("zip_password_min_length %d is below the minimum of %d", cfg.ZipPasswordMinLength, secret.MinPasswordLength)
	}
	pw, err := secret.GenerateZipPassword(cfg.ZipPasswordMinLength)
	if err != nil {
		return err
	}
	if err := writeNew(newFile{o.output, []byte(pw + "\n")}); err != nil {
		return err
	}
	code := secret.ZipPasswordCheckCode([]byte(pw))
	bits := int(secret.GeneratedBits(cfg.ZipPasswordMinLength))
	if a.json {
		a.emit(map[string]any{"event": "keygen", "file": o.output, "kind": "zip_password", "bits": bits, "check_code": code})
		return nil
	}
	// Like the recipient, the password is the command's output when it is
	// shown at all, so -q does not hide it.
	if o.show || a.isTerminal(a.env.Stdout) {
		fmt.Fprintln(a.env.Stdout, pw)
	}
	if !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: zip password (%d bits) written to %s\n", bits, o.output)
		fmt.Fprintf(a.env.Stderr, "xfer: zip password check code: %s (compare it with the other side by phone; 'xfer doctor' shows it)\n", code)
	}
	return nil
}

// newFile is a file keygen writes.
type newFile struct {
	path    string
	content []byte
}

// writeNew writes new files of mode 0600, never replacing one: all of them
// or none (unless one appears between two commits).
func writeNew(files ...newFile) error {
	var staged []*safefile.File
	defer func() {
		for _, f := range staged {
			f.Abort()
		}
	}()
	for _, nf := range files {
		f, err := safefile.Create(nf.path)
		if err != nil {
			return err
		}
		staged = append(staged, f)
		if _, err := f.Write(nf.content); err != nil {
			return err
		}
	}
	for _, f := range staged {
		if err := f.Commit(); err != nil {
			return err
		}
	}
	return nil
}
