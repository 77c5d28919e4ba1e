package crypt

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// headerField names the field of an xfer-aes256 header at offset i.
func headerField(kekType byte, i int) string {
	type field struct {
		name string
		size int
	}
	fields := []field{{"magic", len(aesMagic)}, {"kek_type", 1}}
	if kekType == kekTypeKeyFile {
		fields = append(fields, field{"key_id", keyIDSize})
	} else {
		fields = append(fields, field{"log_n", 1}, field{"salt", saltSize})
	}
	fields = append(fields, field{"wrap_nonce", wrapNonceSize}, field{"wrapped_key", wrappedKeySize},
		field{"stream_nonce", streamNonceSize}, field{"header_mac", headerMACSize})
	for _, f := range fields {
		if i < f.size {
			return f.name
		}
		i -= f.size
	}
	return "payload"
}

// sweep flips every bit of every header byte and of sampled payload bytes,
// opens the result with both readers, and returns, per field, the set of
// error categories seen. Any success fails the test.
func sweep(t *testing.T, file []byte, kekType byte, ids Identities, bits []byte, payloadStep int) map[string][]string {
	t.Helper()
	hdrLen := keyFileHeaderSize
	if kekType == kekTypePassphrase {
		hdrLen = passphraseHeaderSize
	}
	seen := map[string][]string{}
	for i := 0; i < len(file); i++ {
		if i >= hdrLen && (i-hdrLen)%payloadStep != 0 && i != len(file)-1 {
			continue
		}
		field := headerField(kekType, i)
		for _, bit := range bits {
			f := slices.Clone(file)
			f[i] ^= bit
			for name, open := range map[string]func([]byte, Identities, readerConfig) ([]byte, error){
				"NewReader": openStream, "NewReaderAt": openAt,
			} {
				_, err := open(f, ids, readerConfig{})
				c := category(err)
				if c == "success" || c == "other" || c == "BOTH" {
					t.Errorf("%s: byte %d (%s) ^ %#02x: %s (%v)", name, i, field, bit, c, err)
				}
				key := field
				if field == "log_n" {
					key = fmt.Sprintf("log_n=%d", f[i])
				}
				if !slices.Contains(seen[key], c) {
					seen[key] = append(seen[key], c)
				}
			}
		}
	}
	return seen
}

// TestTamperSweepKeyFile checks that every single-bit change to a key-file
// file fails, and that only the key_id gives ErrNoIdentity: a key that
// matches the key_id tells a damaged header from a wrong key.
func TestTamperSweepKeyFile(t *testing.T) {
	key, _ := GenerateAESKey()
	file := seal(t, EncryptOptions{Cipher: CipherAES256, AESKey: key}, writerConfig{}, testPlaintext(100))
	all := []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80}
	seen := sweep(t, file, kekTypeKeyFile, Identities{AES: []AESKey{*key}}, all, 1)
	for field, cats := range seen {
		want := "integrity"
		if field == "key_id" {
			want = "no identity"
		}
		if len(cats) != 1 || cats[0] != want {
			t.Errorf("%s: categories %v, want only %s", field, cats, want)
		}
	}
	t.Logf("key-file header: %v", seen)

	// Every truncation and a one-byte extension fail with ErrIntegrity.
	for n := range len(file) {
		for name, open := range map[string]func([]byte, Identities, readerConfig) ([]byte, error){
			"NewReader": openStream, "NewReaderAt": openAt,
		} {
			if _, err := open(file[:n], Identities{AES: []AESKey{*key}}, readerConfig{}); category(err) != "integrity" {
				t.Errorf("%s: truncated to %d: %v", name, n, err)
			}
			if _, err := open(append(slices.Clone(file), 0), Identities{AES: []AESKey{*key}}, readerConfig{}); category(err) != "integrity" {
				t.Errorf("%s: extended: %v", name, err)
			}
		}
	}
}

// TestTamperSweepPassphrase does the same for a passphrase file, where a
// changed log_n (within range), salt, wrap_nonce or wrapped_key can't be
// told from a wrong passphrase: they give ErrNoIdentity.
func TestTamperSweepPassphrase(t *testing.T) {
	pass := []byte("sweep")
	file := seal(t, EncryptOptions{Cipher: CipherAES256, Passphrase: pass}, fastCfg, testPlaintext(100))
	// Two bits per byte: every scrypt run costs milliseconds (more under
	// -race). 0x01 and 0x04 on log_n 10 give 11 and 14, both accepted.
	bits := []byte{0x01, 0x04, 0x80}
	if raceEnabled || testing.Short() {
		bits = bits[:2]
	}
	seen := sweep(t, file, kekTypePassphrase, Identities{Passphrase: pass}, bits, 7)
	wantNoID := map[string]bool{"salt": true, "wrap_nonce": true, "wrapped_key": true, "log_n=11": true, "log_n=14": true}
	for field, cats := range seen {
		want := "integrity"
		if wantNoID[field] {
			want = "no identity"
		}
		if len(cats) != 1 || cats[0] != want {
			t.Errorf("%s: categories %v, want only %s", field, cats, want)
		}
	}
	var lines []string
	for f, c := range seen {
		lines = append(lines, f+": "+strings.Join(c, ","))
	}
	slices.Sort(lines)
	t.Logf("passphrase header:\n%s", strings.Join(lines, "\n"))
}
