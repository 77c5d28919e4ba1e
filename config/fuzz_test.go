package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzLoad feeds arbitrary bytes to Load as a configuration file. It never
// panics; every error names the file; a file that loads encodes back to
// TOML that loads to the same settings; and the sizes and durations it
// holds parse or fail without panicking.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"bucket = \"exchange\"\nrecipients = [\"age1x\"]\nconcurrency = 3\n",
		"endpoint = \"https://s3.example:9000\"\nprefix = \"clients/acme/\"\nregion = \"eu-central-1\"\nallow_http = true\n" +
			"cipher = \"aes256\"\nkey_file = \"/k\"\nidentities = [\"a\", \"b\"]\nzip_password_min_length = 12\n" +
			"compression_level = 9\npart_size = \"64MiB\"\nexpires = \"30d\"\nspool_dir = \"/var/spool/xfer\"\n",
		"bukket = \"typo\"\n",
		"bucket = \n",
		"[section]\nkey = 1\n",
		"concurrency = 99999999999999999999\n",
		"part_size = 5\n",
		"recipients = \"age1x\"\n",
		"bucket = \"\\u0000\"\nsender = '''\nmulti\nline'''\n",
		"\xef\xbb\xbfbucket = \"bom\"\n",
		"spool_dir = 'C:\\xfer'\nsender = \"C:\\txfer\"\n",
		"\xff\xfeb\x00 \x00=\x00 \x00'\x00x\x00'\x00",
		"a = [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, false)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Load returned settings and an error: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "config "+path+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		_, _ = ParseSize(cfg.PartSize)
		_, _ = ParseDuration(cfg.Expires)

		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
			return // e.g. a string TOML can't encode; nothing to compare
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load(path, false)
		if errors.Is(err, ErrBackslashEscape) {
			return // a value like "C:" + a tab, which the encoder writes as the escape Load refuses
		}
		if err != nil {
			t.Fatalf("settings encoded by toml do not load: %v\n%s", err, buf.Bytes())
		}
		a, b := *cfg, *again
		for _, p := range []*[]string{&a.Recipients, &a.Identities, &b.Recipients, &b.Identities} {
			if len(*p) == 0 {
				*p = nil
			}
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("settings changed across encode and load:\n%+v\n%+v", a, b)
		}
	})
}
