package crypt

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	specPath    = "../docs/format-aes256.md"
	beginMarker = "<!-- BEGIN GENERATED: worked examples (go test ./crypt -run TestSpecExamples -update) -->\n"
	endMarker   = "<!-- END GENERATED -->\n"
)

// TestSpecExamples recomputes every intermediate value of the worked
// examples in the specification from the vectors, independently of the
// reader, and checks the document shows exactly those (with -update, it
// rewrites that part of the document).
func TestSpecExamples(t *testing.T) {
	var b strings.Builder
	b.WriteString(beginMarker)
	for _, name := range []string{"keyfile_hello", "passphrase_hello"} {
		data, err := os.ReadFile(filepath.Join(vectorDir, name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := parseAESVector(name, data)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(explainVector(t, v))
	}
	b.WriteString(endMarker)
	got := b.String()

	doc, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), beginMarker)
	_, after, ok2 := strings.Cut(rest, endMarker)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the generated-section markers", specPath)
	}
	if *update {
		if err := os.WriteFile(specPath, []byte(before+got+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if beginMarker+rest[:len(rest)-len(after)] != got {
		t.Errorf("the worked examples in %s are out of date (run with -update)", specPath)
	}
}

// explainVector derives each value step by step, as a second
// implementation would, and fails if the result differs from the file.
func explainVector(t *testing.T, v *aesVector) string {
	f := v.file
	var w strings.Builder
	line := func(name, format string, args ...any) {
		fmt.Fprintf(&w, "%-32s %s\n", name, fmt.Sprintf(format, args...))
	}
	take := func(n int) []byte { p := f[:n]; f = f[n:]; return p }

	pt := vectorPlaintext(12)
	fmt.Fprintf(&w, "\n### Example: `%s`\n\n```\n", v.name)
	line("plaintext", "%q", pt)
	line("plaintext (hex)", "%x", pt)
	hdrStart := v.file
	magic := take(len(aesMagic))
	line("magic", "%x", magic)
	kekType := take(1)[0]
	line("kek_type", "%02x", kekType)
	var kek []byte
	switch kekType {
	case kekTypeKeyFile:
		text, _ := v.keys[0].MarshalText()
		line("key file line", "%s", text)
		h := sha256.Sum256(append([]byte(keyIDLabel), v.keys[0][:]...))
		keyID := take(keyIDSize)
		line("key_id", "%x", keyID)
		if !bytes.Equal(h[:8], keyID) {
			t.Errorf("%s: key_id mismatch", v.name)
		}
		kek = v.keys[0][:]
		line("KEK (= the key)", "%x", kek)
	case kekTypePassphrase:
		line("passphrase", "%q", v.passphrase)
		logN := int(take(1)[0])
		line("log_n", "%02x (N = 2^%d, r = 8, p = 1)", logN, logN)
		salt := take(saltSize)
		line("salt", "%x", salt)
		line("scrypt salt input", "%x", append([]byte(scryptLabel), salt...))
		kek = scryptKEK([]byte(v.passphrase), salt, logN)
		line("KEK = scrypt(...)", "%x", kek)
	}
	wrapNonce := take(wrapNonceSize)
	line("wrap_nonce", "%x", wrapNonce)
	aad := hdrStart[:len(hdrStart)-len(f)]
	wrapped := take(wrappedKeySize)
	line("wrapped_key", "%x", wrapped)
	line("(aad: header bytes before it)", "%x", aad)
	fileKey, err := newGCM(kek).Open(nil, wrapNonce, wrapped, aad)
	if err != nil || !bytes.Equal(fileKey, v.fileKey) {
		t.Errorf("%s: unwrapping gives a different file key", v.name)
	}
	line("file_key", "%x", fileKey)
	streamNonce := take(streamNonceSize)
	line("stream_nonce", "%x", streamNonce)
	macKey := hkdfKey(fileKey, nil, headerLabel)
	line("header MAC key", "%x", macKey)
	m := hmac.New(sha256.New, macKey)
	m.Write(hdrStart[:len(hdrStart)-len(f)])
	mac := take(headerMACSize)
	line("header_mac", "%x", mac)
	if !hmac.Equal(m.Sum(nil), mac) {
		t.Errorf("%s: header MAC mismatch", v.name)
	}
	line("header length", "%d bytes", len(v.file)-len(f))
	payloadKey := hkdfKey(fileKey, streamNonce, payloadLabel)
	line("payload key", "%x", payloadKey)
	nonce := chunkNonce(0, true)
	line("chunk 0 nonce (final)", "%x", nonce)
	line("chunk 0 (ciphertext || tag)", "%x", f)
	got, err := newGCM(payloadKey).Open(nil, nonce, f, nil)
	if err != nil || !bytes.Equal(got, pt) {
		t.Errorf("%s: chunk 0 does not decrypt to the plaintext", v.name)
	}
	fmt.Fprintf(&w, "```\n\nThe whole file, %d bytes:\n\n```\n", len(v.file))
	hexFile := fmt.Sprintf("%x", v.file)
	for len(hexFile) > 64 {
		w.WriteString(hexFile[:64] + "\n")
		hexFile = hexFile[64:]
	}
	w.WriteString(hexFile + "\n```\n")
	return w.String()
}
