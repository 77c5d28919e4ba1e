package config

import (
	"fmt"
	"strings"
)

// Schema is the [schema] table: what a sent file may and must hold, and
// what each row check does (reject, warn, drop or off). See docs/screening.md.
type Schema struct {
	Required       []string `toml:"required"`
	Allowed        []string `toml:"allowed"`
	DropColumns    []string `toml:"drop_columns"`
	PostcodeColumn string   `toml:"postcode_column"`
	// OnEmptyRequired, OnBadPostcode and OnDuplicate are actions; empty
	// means the default (reject, warn and off).
	OnEmptyRequired string `toml:"on_empty_required"`
	OnBadPostcode   string `toml:"on_bad_postcode"`
	OnDuplicate     string `toml:"on_duplicate"`
	// DuplicateLimit caps the rows the duplicate check tracks; 0 means
	// the built-in 3,000,000.
	DuplicateLimit int `toml:"duplicate_limit"`
}

// Suppress is the [suppress] table: the suppression key and the lists
// every send is screened against.
type Suppress struct {
	// Key is the normalised match key, column names with an optional
	// transform: ["surname", "initial:first_name", "postcode"].
	Key []string `toml:"key"`
	// Lists are paths of suppression lists, plain CSV or hashed.
	Lists []string `toml:"lists"`
}

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
