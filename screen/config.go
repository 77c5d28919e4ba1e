package screen

import (
	"fmt"

	"github.com/xfer-dev/xfer/config"
)

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
func RulesFromConfig(schema config.Schema, sup config.Suppress, fl Flags) (Rules, error) {
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
