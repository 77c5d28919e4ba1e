package screen

import "fmt"

// Schema is the configuration's [schema] table: what a sent file may and
// must hold, and what each row check does (reject, warn, drop or off). See
// docs/screening.md. The tags name its TOML keys; screen reads no TOML.
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

// Suppress is the configuration's [suppress] table: the suppression key
// and the lists every send is screened against.
type Suppress struct {
	// Key is the normalised match key, column names with an optional
	// transform: ["surname", "initial:first_name", "postcode"].
	Key []string `toml:"key"`
	// Lists are paths of suppression lists, plain CSV or hashed.
	Lists []string `toml:"lists"`
}

// Flags are the command line's additions to the configuration.
type Flags struct {
	// Suppress are more suppression list paths (--suppress), used in
	// addition to the configured lists, never instead of them: an opt-out
	// list in the configuration cannot be left out by accident.
	Suppress []string
	// DropColumns (--drop-columns) are dropped in addition to
	// schema.drop_columns.
	DropColumns []string
}

// RulesFromConfig builds Rules from the [schema] and [suppress] tables and
// the command line, loading every suppression list. Errors name the setting
// or the list file.
func RulesFromConfig(schema Schema, sup Suppress, fl Flags) (Rules, error) {
	r := Rules{
		Required:       schema.Required,
		Allowed:        schema.Allowed,
		Drop:           append(append([]string(nil), schema.DropColumns...), fl.DropColumns...),
		PostcodeColumn: schema.PostcodeColumn,
		DuplicateLimit: schema.DuplicateLimit,
	}
	var err error
	for _, a := range []struct {
		name string
		v    string
		dst  *Action
	}{
		{"schema.on_empty_required", schema.OnEmptyRequired, &r.EmptyRequired},
		{"schema.on_bad_postcode", schema.OnBadPostcode, &r.BadPostcode},
		{"schema.on_duplicate", schema.OnDuplicate, &r.Duplicate},
	} {
		if *a.dst, err = ParseAction(a.v); err != nil {
			return Rules{}, fmt.Errorf("config: %s: %w", a.name, err)
		}
	}
	key, err := ParseKeySpec(sup.Key)
	if err != nil {
		return Rules{}, fmt.Errorf("config: suppress.key: %w", err)
	}
	for _, path := range append(append([]string(nil), sup.Lists...), fl.Suppress...) {
		l, err := OpenList(path, key)
		if err != nil {
			return Rules{}, err
		}
		for _, other := range r.Lists {
			if other.Name == l.Name {
				l.Name = path // two lists with one base name: tell them apart
			}
		}
		r.Lists = append(r.Lists, l)
	}
	if err := r.Validate(); err != nil {
		return Rules{}, fmt.Errorf("config: %w", err)
	}
	return r, nil
}
