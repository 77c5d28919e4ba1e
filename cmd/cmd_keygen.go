package cmd

import (
	"fmt"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/safefile"
)

type keygenOptions struct {
	output string
	aes    bool
}

func (a *app) newKeygenCommand() *cobra.Command {
	var o keygenOptions
	c := &cobra.Command{
		Use:   "keygen [-o FILE] [--aes]",
		Short: "Create an age identity (or an AES-256 key file)",
		Long: `Create a new age identity and print its public recipient on stdout. Give the
recipient (age1…) to whoever sends you files; keep the identity file secret.
With --aes, create a 256-bit key file for --cipher aes256 instead: that key is
symmetric, so it must reach the other side over a channel you trust.

The file is written with mode 0600 and never replaces an existing file. Without
-o it goes to ` + filepath.Join(config.Dir(), defaultIdentityFile) + ` (or ` + defaultAESKeyFile + `), where decrypt
and pull find it without -i.

Environment: XDG_CONFIG_HOME (where the default key file goes), XFER_CONFIG.`,
		Example: `  xfer keygen -o mailhouse.key
  xfer keygen --aes -o client.aeskey`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runKeygen(c, o) },
	}
	c.Flags().StringVarP(&o.output, "output", "o", "", "write the key to FILE")
	c.Flags().BoolVar(&o.aes, "aes", false, "create an AES-256 key file instead of an age identity")
	return c
}

func (a *app) runKeygen(c *cobra.Command, o keygenOptions) error {
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
	if path == "-" {
		return usagef("keys are written to a file, never to stdout: give -o FILE")
	}
	created := time.Now()
	var content []byte
	var public, keyID string
	if o.aes {
		key, err := crypt.GenerateAESKey()
		if err != nil {
			return err
		}
		content, keyID = key.KeyFile(created), key.KeyID()
	} else {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return err
		}
		public = id.Recipient().String()
		content = fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n", created.UTC().Format(time.RFC3339), public, id)
	}
	f, err := safefile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(content); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	event := map[string]any{"event": "keygen", "file": path}
	if o.aes {
		event["cipher"], event["key_id"] = string(crypt.CipherAES256), keyID
		a.result(event, "AES-256 key %s written to %s", keyID, path)
		return nil
	}
	event["recipient"] = public
	if a.json {
		a.emit(event)
		return nil
	}
	// The recipient is the command's output, so it is printed even with -q.
	fmt.Fprintln(a.env.Stdout, public)
	if !a.quiet {
		fmt.Fprintf(a.env.Stderr, "xfer: identity written to %s\n", path)
	}
	return nil
}
