package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadScreenTables(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f, err := Load(write(`
[schema]
required = ["surname", "postcode"]
allowed = ["surname", "first_name", "postcode"]
drop_columns = ["date_of_birth"]
postcode_column = "postcode"
on_empty_required = "reject"
on_bad_postcode = "Warn"
on_duplicate = "drop"
duplicate_limit = 1000

[suppress]
key = ["surname", "initial:first_name", "postcode"]
lists = ["optouts.csv", "mps.hashed"]
`), false)
	if err != nil {
		t.Fatal(err)
	}
	if f.Schema.PostcodeColumn != "postcode" || len(f.Suppress.Lists) != 2 || f.Schema.OnDuplicate != "drop" {
		t.Fatalf("%+v", f)
	}
	for content, want := range map[string]string{
		"[schema]\non_duplicate = \"sometimes\"\n": "schema.on_duplicate",
		"[schema]\non_bad_postcode = \"no\"\n":     "schema.on_bad_postcode",
		"[schema]\nrequired = [\"\"]\n":            "schema.required",
		"[schema]\nduplicate_limit = -1\n":         "schema.duplicate_limit",
		"[suppress]\nlists = [\"a.csv\"]\n":        "suppress.lists",
		"[schema]\nrequird = [\"a\"]\n":            "unknown setting schema.requird",
	} {
		_, err := Load(write(content), false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
}
