package cmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xfer-dev/xfer/config"
	"github.com/xfer-dev/xfer/screen"
)

// screenFlags are the screening options send and encrypt share.
type screenFlags struct {
	suppress    []string
	dropColumns []string
}

func (s *screenFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringArrayVar(&s.suppress, "suppress", nil, "drop rows matching this suppression list (a CSV, or one made by 'xfer suppress hash'); repeatable, in addition to the config's [suppress] lists")
	f.StringSliceVar(&s.dropColumns, "drop-columns", nil, "remove these columns before sealing (comma-separated; repeatable), in addition to the config's schema.drop_columns")
}

// screenRules builds the screening rules from the configuration and the
// flags, loading every suppression list. It also returns a tag that
// changes whenever the rules or a list file do, for the spool fingerprint.
func (a *app) screenRules(cfg *config.File, s screenFlags) (screen.Rules, string, error) {
	rules, err := screen.RulesFromConfig(cfg.Schema, cfg.Suppress, screen.Flags{Suppress: s.suppress, DropColumns: s.dropColumns})
	if err != nil {
		return screen.Rules{}, "", usagef("%w", err)
	}
	if !rules.Active() {
		return rules, "", nil
	}
	tag := fmt.Sprintf("%+v|%v|%v", cfg.Schema, cfg.Suppress.Key, rules.Drop)
	for _, path := range append(append([]string(nil), cfg.Suppress.Lists...), s.suppress...) {
		fi, err := os.Stat(path)
		if err != nil {
			return screen.Rules{}, "", usagef("suppression list: %w", err)
		}
		tag += fmt.Sprintf("|%s:%d:%d", path, fi.Size(), fi.ModTime().UnixNano())
	}
	return rules, tag, nil
}

// reportScreen adds what screening did to a sealed file's event and
// returns it for the human line; each issue found becomes a warning line
// (row numbers, never row content).
func (a *app) reportScreen(file string, rep *screen.Report, event map[string]any) string {
	if rep == nil {
		return ""
	}
	event["rows_in"], event["suppressed_rows"] = rep.RowsIn, rep.SuppressedRows
	event["suppressed_by_variant"] = rep.SuppressedByVariant
	if len(rep.Suppressed) > 0 {
		event["suppressed"] = rep.Suppressed
	}
	if len(rep.Dropped) > 0 {
		event["dropped_columns"] = rep.Dropped
	}
	if len(rep.Issues) > 0 {
		event["issues"] = rep.Issues
	}
	for _, is := range rep.Issues {
		if !is.Rejected {
			a.warn("%s: %s", file, is.Describe())
		}
	}
	var parts []string
	if rep.SuppressedRows > 0 || len(rep.Suppressed) > 0 {
		p := fmt.Sprintf("%d of %d rows suppressed", rep.SuppressedRows, rep.RowsIn)
		if rep.SuppressedByVariant > 0 {
			p += fmt.Sprintf(" (%d only through another spelling)", rep.SuppressedByVariant)
		}
		parts = append(parts, p)
	}
	if len(rep.Dropped) > 0 {
		parts = append(parts, "dropped "+strings.Join(rep.Dropped, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}
