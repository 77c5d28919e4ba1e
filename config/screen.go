package config

import (
	"fmt"
	"strings"

	"github.com/xfer-dev/xfer/screen"
)

// Schema is the [schema] table (see screen.Schema); Suppress is the
// [suppress] table (see screen.Suppress). The types belong to screen, so
// that sealing does not depend on the TOML library.
type (
	Schema   = screen.Schema
	Suppress = screen.Suppress
)

var actions = []string{"reject", "warn", "drop", "off"}

// checkScreen validates [schema] and [suppress]; each error names the
// setting. The key's syntax is checked where it is parsed (package screen).
func (f *File) checkScreen() error {
	for _, a := range []struct{ name, v string }{
		{"schema.on_empty_required", f.Schema.OnEmptyRequired},
		{"schema.on_bad_postcode", f.Schema.OnBadPostcode},
		{"schema.on_duplicate", f.Schema.OnDuplicate},
	} {
		v := strings.ToLower(strings.TrimSpace(a.v))
		ok := v == ""
		for _, x := range actions {
			ok = ok || v == x
		}
		if !ok {
			return fmt.Errorf("%s: unknown action %q (use %s)", a.name, a.v, strings.Join(actions, ", "))
		}
	}
	if f.Schema.DuplicateLimit < 0 {
		return fmt.Errorf("schema.duplicate_limit: must not be negative")
	}
	for _, l := range []struct {
		name string
		v    []string
	}{
		{"schema.required", f.Schema.Required}, {"schema.allowed", f.Schema.Allowed},
		{"schema.drop_columns", f.Schema.DropColumns}, {"suppress.key", f.Suppress.Key},
		{"suppress.lists", f.Suppress.Lists},
	} {
		for _, s := range l.v {
			if strings.TrimSpace(s) == "" {
				return fmt.Errorf("%s: an empty entry", l.name)
			}
		}
	}
	if len(f.Suppress.Lists) > 0 && len(f.Suppress.Key) == 0 {
		return fmt.Errorf("suppress.lists: set suppress.key too (the columns the lists match on)")
	}
	return nil
}
