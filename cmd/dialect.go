package cmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/csvcheck"
	"github.com/xfer-dev/xfer/seal"
)

// dialectFlags are the CSV dialect options send and encrypt share.
type dialectFlags struct {
	encoding   string
	delimiter  string
	allowEmpty bool
}

func (d *dialectFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&d.encoding, "encoding", "", "encoding of a CSV without a byte-order mark: windows-1252, iso-8859-1, iso-8859-15, utf-16le, utf-16be (default: UTF-8; a BOM is always honoured)")
	f.StringVar(&d.delimiter, "delimiter", "", "field separator: , ; | or tab (default: found from the header, or Excel's sep= line)")
	f.BoolVar(&d.allowEmpty, "allow-empty", false, "seal a CSV that has a header but no rows (refused otherwise)")
}

// csvDialect resolves the dialect flags against the [csv] section of the
// configuration into seal's options; a bad name is a usage error. The tag
// changes with them, for the spool fingerprint.
func (a *app) csvDialect(c *cobra.Command, cfg *config.File, d dialectFlags) (opts seal.Options, tag string, err error) {
	enc, err := csvcheck.ParseEncoding(a.setting(c, "encoding", "", cfg.CSV.Encoding, ""))
	if err != nil {
		return opts, "", usagef("--encoding (or [csv] encoding): %w", err)
	}
	delim, err := csvcheck.ParseDelimiter(a.setting(c, "delimiter", "", cfg.CSV.Delimiter, ""))
	if err != nil {
		return opts, "", usagef("--delimiter (or [csv] delimiter): %w", err)
	}
	opts.Encoding, opts.Delimiter = enc, delim
	opts.AllowEmpty = cfg.CSV.AllowEmpty
	if c.Flags().Changed("allow-empty") {
		opts.AllowEmpty = d.allowEmpty
	}
	return opts, fmt.Sprintf("%s|%q|%t", enc, delim, opts.AllowEmpty), nil
}

// csvInput is the CSV a send or encrypt reads: a file, or standard input
// (path "-"), streamed and never copied to disk.
type csvInput struct {
	io.Reader
	name     string      // the CSV's name in the zip: --as, else the file's base name
	modified time.Time   // the file's modification time, or now for stdin
	size     int64       // -1 when unknown (stdin)
	fi       os.FileInfo // nil for stdin: there is no file to fingerprint
	close    func() error
}

// openCSV opens path, or standard input for "-", which needs --as for a
// name, since there is no file name to take.
func (a *app) openCSV(path, as, verb string) (*csvInput, error) {
	name := as
	if path == "-" {
		if as == "" {
			return nil, withHint(usagef("%s - reads standard input and needs a name for it", verb), "give one with --as NAME.csv")
		}
		if a.isTerminal(a.env.Stdin) {
			return nil, withHint(usagef("%s -: standard input is a terminal", verb), "pipe the CSV in, e.g. iconv -f CP1252 -t UTF-8 export.csv | xfer %s - --as export.csv", verb)
		}
		return &csvInput{Reader: a.env.Stdin, name: name, modified: time.Now(), size: -1, close: func() error { return nil }}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("%w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, usagef("%s is a directory", path)
	}
	if name == "" {
		name = filepath.Base(path)
	}
	return &csvInput{Reader: f, name: name, modified: fi.ModTime(), size: fi.Size(), fi: fi, close: f.Close}, nil
}

// sourceLine describes a sealed file's source dialect for a human line,
// or "" for a file sealed before manifests recorded it.
func sourceLine(d *csvcheck.Dialect) string {
	if d == nil {
		return ""
	}
	return ", source: " + d.String()
}
