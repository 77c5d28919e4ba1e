package cmd

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/internal/safefile"
	"github.com/xfer-dev/xfer/screen"
)

func (a *app) newSuppressCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "suppress",
		Short: "Manage suppression lists",
		Long: `Manage the suppression lists that 'xfer send' screens rows against (opt-outs,
deceased and preference-service lists). See docs/screening.md.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(a.newSuppressHashCommand())
	return c
}

type suppressHashOptions struct {
	output string
	key    []string
}

func (a *app) newSuppressHashCommand() *cobra.Command {
	var o suppressHashOptions
	c := &cobra.Command{
		Use:   "hash LIST.csv [-o LIST.hashed] [--key COLUMN,...]",
		Short: "Turn a plain suppression list into a hashed one",
		Long: `Read a plain CSV suppression list whose header names the key's columns, and
write a hashed list: a header line with the format, the key and a fresh random
salt, then one keyed hash (HMAC-SHA256, first 16 bytes, hex) per distinct
entry, sorted, and one per spelling form that is no entry's own key (so that
Mueller meets Müller and Muller). 'xfer send' reads either kind and matches
them the same way. Hashed lists made before xfer matched spelling variants
are refused: hash the plain list again.

The key is --key (comma-separated parts, each a column with an optional
transform: initial:, digits: or email:) or else [suppress] key from the
configuration. A hashed list's key is fixed: hash again when the key changes.

A hashed list holds no entry in clear, but it is pseudonymised personal data,
not anonymous: with the file, anyone can test whether a given person's name and
postcode are on it. Keep it as you keep the plain list; the salt only stops
tables computed in advance.

The output is written with mode 0600 and never replaces an existing file.
Without -o it is LIST.hashed beside the input. Nothing from the list is
printed: only counts.`,
		Example: `  xfer suppress hash optouts.csv -o optouts.hashed --key surname,initial:first_name,postcode
  xfer suppress hash unsubscribed.csv --key email:email`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return a.runSuppressHash(o, args[0]) },
	}
	c.Flags().StringVarP(&o.output, "output", "o", "", "write the hashed list to FILE")
	c.Flags().StringSliceVar(&o.key, "key", nil, "suppression key parts, comma-separated (default [suppress] key)")
	return c
}

func (a *app) runSuppressHash(o suppressHashOptions, input string) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	parts := o.key
	if len(parts) == 0 {
		parts = cfg.Suppress.Key
	}
	if len(parts) == 0 {
		return withHint(usagef("no suppression key"), "give --key (for example --key surname,initial:first_name,postcode) or set [suppress] key")
	}
	key, err := screen.ParseKeySpec(parts)
	if err != nil {
		return usagef("--key: %v", err)
	}
	out := o.output
	if out == "" {
		out = strings.TrimSuffix(input, filepath.Ext(input)) + ".hashed"
	}
	if out == "-" {
		return usagef("a hashed list is written to a file: give -o FILE")
	}
	in, err := os.Open(input)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := safefile.Create(out)
	if err != nil {
		return err
	}
	defer f.Abort()
	stats, err := screen.HashList(f, in, filepath.Base(input), key)
	if err != nil {
		return usageError{err}
	}
	if err := f.Commit(); err != nil {
		return err
	}
	a.result(map[string]any{
		"event": "suppress_hash", "file": out, "key": key.String(),
		"entries": stats.Entries, "duplicates": stats.Duplicates, "empty": stats.Empty, "variants": stats.Variants,
	}, "%d entries hashed to %s (%d duplicates collapsed, %d with an empty key left out)",
		stats.Entries, out, stats.Duplicates, stats.Empty)
	return nil
}
