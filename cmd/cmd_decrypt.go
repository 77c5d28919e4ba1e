package cmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/seal"
)

type decryptOptions struct {
	keyFlags
	identities []string
	output     string
	maxSize    string
}

// maxSizeUsage is the help of --max-size, on decrypt and pull.
const maxSizeUsage = "refuse to write a CSV larger than SIZE, e.g. 10GiB (default from config's max_size, else 64GiB)"

// outputLimits resolves what a CSV opened here may write: --max-size,
// the config's max_size and max_ratio (see exchange.CheckOutput).
func (a *app) outputLimits(c *cobra.Command, cfg *config.File) (exchange.OutputLimits, error) {
	l := exchange.OutputLimits{MaxRatio: cfg.MaxRatio}
	if l.MaxRatio < 0 {
		return l, usagef("max_ratio %v: use a positive number, e.g. 250", cfg.MaxRatio)
	}
	if s := a.setting(c, "max-size", "", cfg.MaxSize, ""); s != "" {
		n, err := config.ParseSize(s)
		if err != nil || n <= 0 {
			return l, usagef("--max-size %q: give a size such as 10GiB", s)
		}
		l.MaxSize = n
	}
	return l, nil
}

func (a *app) newDecryptCommand() *cobra.Command {
	var o decryptOptions
	c := &cobra.Command{
		Use:   "decrypt FILE [-o OUT.csv]",
		Short: "Open a sealed file locally, without the network",
		Long: `Open both layers of a sealed file and write the CSV. Every byte is
authenticated before any of it is written; the output appears, with mode 0600,
only when complete, and never replaces an existing file. Without -o the CSV
gets the name the sender gave it, in the current directory.

Before writing, the size the file declares for its CSV is checked against
--max-size, the free space where it goes, and a compression ratio that
address data never reaches (config: max_size, max_ratio); a file over any of
them is refused with exit code 4 and nothing is written.

The identity is an age identity file or an AES-256 key file (-i, repeatable;
default: the identities in the configuration, else the files that
'xfer keygen' writes by default), or a passphrase.

Environment: XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_CONFIG.`,
		Example: `  xfer decrypt addresses.csv.zip.age -i mailhouse.key --zip-password-file zip.pw
  xfer decrypt addresses.csv.zip.aes -i client.aeskey -o - | head`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runDecrypt(c, o, args[0]) },
	}
	o.addSecretFlags(c)
	c.Flags().StringArrayVarP(&o.identities, "identity", "i", nil, "age identity or AES-256 key file (repeatable)")
	c.Flags().StringVarP(&o.output, "output", "o", "", "write the CSV to OUT.csv (- for stdout)")
	c.Flags().StringVar(&o.maxSize, "max-size", "", maxSizeUsage)
	return c
}

func (a *app) runDecrypt(c *cobra.Command, o decryptOptions, input string) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if o.output == "-" && a.isTerminal(a.env.Stdout) {
		return withHint(usagef("refusing to write address data to a terminal"), "redirect stdout or give -o FILE")
	}
	limits, err := a.outputLimits(c, cfg)
	if err != nil {
		return err
	}
	ids, err := a.identities(c, o.identities, cfg)
	if err != nil {
		return err
	}
	pw, err := a.zipPassword(c, cfg, false)
	if err != nil {
		return err
	}
	in, err := os.Open(input)
	if err != nil {
		return usagef("%w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	opened, err := seal.Open(in, fi.Size(), ids, pw)
	if err != nil {
		return err
	}
	out := o.output
	if out == "" {
		out = opened.Name()
	}
	dir := filepath.Dir(out)
	if out == "-" {
		dir = "" // no file system to fill
	}
	if err := exchange.CheckOutput(opened, dir, limits); err != nil {
		return err
	}
	// Standard output gets nothing before the entry authenticates (two
	// passes); a file is written in one pass into a 0600 temporary file
	// that becomes the output only if it does.
	write := opened.WriteTo
	var dst io.Writer
	var file *safefile.File
	if out == "-" {
		dst = a.env.Stdout
	} else {
		if file, err = safefile.Create(out); err != nil {
			return err
		}
		defer file.Abort()
		file.Direct() // a CSV of any size, flushed before it is named
		dst, write = file, opened.WriteOnceTo
	}
	n, err := write(exchange.ContextWriter{Ctx: c.Context(), W: dst})
	if err != nil {
		return err
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return err
		}
	}
	event := map[string]any{"event": "decrypted", "input": input, "output": out, "bytes": n}
	a.result(event, "opened %s into %s (%s%s)", input, out, humanBytes(n), manifestNote(opened, event))
	return nil
}

// manifestNote adds what the sealed file's manifest vouched for to an
// opened file's event, and returns it for the human line. Opened.WriteTo
// has already checked the CSV against the manifest.
func manifestNote(o *seal.Opened, event map[string]any) string {
	m, err := o.Manifest()
	if err != nil || m == nil {
		event["manifest"] = false
		return ", no manifest to check against"
	}
	event["manifest"], event["rows"], event["csv_sha256"] = true, m.Rows, m.CSVSHA256
	note := fmt.Sprintf(", %d rows as its manifest says", m.Rows)
	if len(m.Suppressed) > 0 {
		event["suppressed"] = m.Suppressed
	}
	if m.SuppressedByVariant > 0 {
		event["suppressed_by_variant"] = m.SuppressedByVariant
	}
	if len(m.Dropped) > 0 {
		event["dropped_columns"] = m.Dropped
	}
	if m.Expires != nil {
		event["expires"] = m.Expires.Format(time.RFC3339)
		note += ", keep until " + m.Expires.Format(time.DateOnly)
	}
	if m.Source != nil {
		event["source"] = m.Source
		note += sourceLine(m.Source)
	}
	return note
}
