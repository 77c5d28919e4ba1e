package screen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesFromConfig(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "optouts.csv")
	os.WriteFile(plain, []byte(people), 0o600)
	_, hashed := hashedList(t, people, "surname", "initial:first_name", "postcode")
	hashedPath := filepath.Join(dir, "sub", "optouts.csv")
	os.Mkdir(filepath.Dir(hashedPath), 0o700)
	os.WriteFile(hashedPath, hashed, 0o600)

	schema := Schema{Required: []string{"surname"}, OnDuplicate: "warn", DropColumns: []string{"x"}}
	sup := Suppress{Key: []string{"surname", "initial:first_name", "postcode"}, Lists: []string{plain}}
	r, err := RulesFromConfig(schema, sup, Flags{Suppress: []string{hashedPath}, DropColumns: []string{"y"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lists) != 2 || r.Lists[0].Name != "optouts.csv" || r.Lists[1].Name != hashedPath ||
		r.Duplicate != Warn || strings.Join(r.Drop, ",") != "x,y" || !r.Active() {
		t.Fatalf("%+v", r)
	}
	for _, c := range []struct {
		schema Schema
		sup    Suppress
		want   string
	}{
		{Schema{OnBadPostcode: "maybe"}, Suppress{}, "schema.on_bad_postcode"},
		{Schema{}, Suppress{Key: []string{"soundex:surname"}}, "suppress.key"},
		{Schema{}, Suppress{Key: []string{"email"}, Lists: []string{hashedPath}}, "hashed with key"},
		{Schema{}, Suppress{Key: []string{"email"}, Lists: []string{filepath.Join(dir, "none")}}, "no such file"},
		{Schema{Required: []string{"a"}, DropColumns: []string{"a"}}, Suppress{}, "both required and dropped"},
	} {
		if _, err := RulesFromConfig(c.schema, c.sup, Flags{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c, err, c.want)
		}
	}
	if r, err := RulesFromConfig(Schema{}, Suppress{}, Flags{}); err != nil || r.Active() {
		t.Fatalf("empty config: %+v %v", r, err)
	}
}
