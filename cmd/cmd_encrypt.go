package cmd

import (
	"encoding/hex"
	"io"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/exchange"
	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/seal"
)

type encryptOptions struct {
	keyFlags
	screenFlags
	dialectFlags
	as     string
	output string
	level  int
}

func (a *app) newEncryptCommand() *cobra.Command {
	var o encryptOptions
	c := &cobra.Command{
		Use:   "encrypt FILE.csv|- [--as NAME] [-o OUT]",
		Short: "Seal a CSV locally, without the network",
		Long: `Check FILE.csv and seal it in both layers: a password-protected AES-256 zip
inside an age (or AES-256-GCM) layer. The output defaults to FILE.csv.zip.age
(.zip.aes with --cipher aes256) beside the input, is written with mode 0600,
and appears only when complete. An existing file is never replaced.

The CSV needs a header row and the same number of fields on every row. It may
be UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark, or
what --encoding says; its delimiter (, ; TAB |) is found from the header, or
Excel's sep= line, or given with --delimiter. It is sealed in one canonical form:
UTF-8, comma-separated, CRLF (docs/excel.md). Anything xfer cannot read
unambiguously is refused with exit code 6 and the line number.

FILE - reads standard input (it needs --as NAME for the name inside the zip;
the output defaults to NAME.zip.age in the current directory).

Environment: XFER_ZIP_PASSWORD, XFER_PASSPHRASE, XFER_CIPHER, XFER_KEY_FILE, XFER_CONFIG.`,
		Example: `  xfer encrypt addresses.csv -r age1… --zip-password-file zip.pw
  xfer encrypt addresses.csv --cipher aes256 --key-file client.aeskey -o out.zip.aes
  xfer encrypt export.csv --encoding windows-1252 -R mailhouse.pub
  iconv -f CP1252 -t UTF-8 export.csv | xfer encrypt - --as export.csv -R mailhouse.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runEncrypt(c, o, args[0]) },
	}
	o.addSealFlags(c)
	o.screenFlags.add(c)
	o.dialectFlags.add(c)
	c.Flags().StringVar(&o.as, "as", "", "name of the CSV inside the zip instead of the file's name (needed for -, standard input)")
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
	dialect, _, err := a.csvDialect(c, cfg, o.dialectFlags)
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
	in, err := a.openCSV(input, o.as, "encrypt")
	if err != nil {
		return err
	}
	defer in.close()
	out := o.output
	switch {
	case out == "" && in.fi == nil:
		out = in.name + exchange.SealedSuffix(outer.Cipher)
	case out == "":
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
	m := a.startMeter("sealing "+in.name, in.size, 0)
	res, err := seal.Seal(c.Context(), dst, in, seal.Options{
		ZipPassword: pw,
		Level:       level,
		Outer:       outer,
		Name:        in.name,
		Modified:    in.modified,
		Manifest:    seal.ManifestInfo{Sender: a.sender()},
		Screen:      rules,
		Progress:    m.Add,
		Encoding:    dialect.Encoding,
		Delimiter:   dialect.Delimiter,
		AllowEmpty:  dialect.AllowEmpty,
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
		"output_bytes": res.OutputBytes, "sha256": hex.EncodeToString(res.SHA256), "source": res.Source,
	}
	screened := a.reportScreen(input, res.Screen, event)
	a.result(event, "sealed %s (%d rows, %s%s%s) into %s (%s)", input, res.Rows, humanBytes(res.InputBytes), screened, sourceLine(&res.Source), out, humanBytes(res.OutputBytes))
	return nil
}
