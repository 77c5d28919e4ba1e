package cmd

import (
	"encoding/hex"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/seal"
)

type encryptOptions struct {
	keyFlags
	screenFlags
	output string
	level  int
}

func (a *app) newEncryptCommand() *cobra.Command {
	var o encryptOptions
	c := &cobra.Command{
		Use:   "encrypt FILE.csv [-o OUT]",
		Short: "Seal a CSV locally, without the network",
		Long: `Check FILE.csv and seal it in both layers: a password-protected AES-256 zip
inside an age (or AES-256-GCM) layer. The output defaults to FILE.csv.zip.age
(.zip.aes with --cipher aes256) beside the input, is written with mode 0600,
and appears only when complete. An existing file is never replaced.

The CSV must be UTF-8 with a header row and the same number of fields on every
row; anything else is refused with exit code 6 and the line number.

Environment: XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_CIPHER, XFER_KEY_FILE, XFER_CONFIG.`,
		Example: `  xfer encrypt addresses.csv -r age1… --zip-password-file zip.pw
  xfer encrypt addresses.csv --cipher aes256 --key-file client.aeskey -o out.zip.aes`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runEncrypt(c, o, args[0]) },
	}
	o.addSealFlags(c)
	o.screenFlags.add(c)
	c.Flags().StringVarP(&o.output, "output", "o", "", "write the sealed file to OUT (- for stdout)")
	c.Flags().IntVar(&o.level, "level", 0, "compression level 1 (fastest) to 9 (smallest); default from config or 5")
	return c
}

func (a *app) runEncrypt(c *cobra.Command, o encryptOptions, input string) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	level := o.level
	if !c.Flags().Changed("level") {
		level = cfg.CompressionLevel
	}
	if level < 0 || level > 9 {
		return usagef("--level %d: use 1 to 9", level)
	}
	rules, _, err := a.screenRules(cfg, o.screenFlags)
	if err != nil {
		return err
	}
	outer, err := a.encryptOptions(c, &o.keyFlags, cfg)
	if err != nil {
		return err
	}
	pw, err := a.zipPassword(c, cfg, true)
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
	if fi.IsDir() {
		return usagef("%s is a directory", input)
	}
	out := o.output
	if out == "" {
		out = input + exchange.SealedSuffix(outer.Cipher)
	}
	var dst io.Writer
	var file *safefile.File
	if out == "-" {
		if a.isTerminal(a.env.Stdout) {
			return withHint(usagef("refusing to write a sealed file to a terminal"), "redirect stdout or give -o FILE")
		}
		dst = a.env.Stdout
	} else {
		if file, err = safefile.Create(out); err != nil {
			return err
		}
		defer file.Abort()
		dst = file
	}
	m := a.startMeter("sealing "+filepath.Base(input), fi.Size(), 0)
	res, err := seal.Seal(c.Context(), dst, in, seal.Options{
		ZipPassword: pw,
		Level:       level,
		Outer:       outer,
		Name:        filepath.Base(input),
		Modified:    fi.ModTime(),
		Manifest:    seal.ManifestInfo{Sender: a.sender()},
		Screen:      rules,
		Progress:    m.Add,
	})
	m.Finish()
	if err != nil {
		return err
	}
	if file != nil {
		if err := file.Commit(); err != nil {
			return err
		}
	}
	event := map[string]any{
		"event": "encrypted", "input": input, "output": out, "cipher": string(outer.Cipher),
		"rows": res.Rows, "columns": res.Columns, "input_bytes": res.InputBytes,
		"output_bytes": res.OutputBytes, "sha256": hex.EncodeToString(res.SHA256),
	}
	screened := a.reportScreen(input, res.Screen, event)
	a.result(event, "sealed %s (%d rows, %s%s) into %s (%s)", input, res.Rows, humanBytes(res.InputBytes), screened, out, humanBytes(res.OutputBytes))
	return nil
}
