package crypt

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age/armor"
)

var update = flag.Bool("update", false, "regenerate the xfer-aes256 test vectors in testdata/aes256 and the fuzz seeds")

const vectorDir = "testdata/aes256"

// The vectors' secrets. They are test values, published on purpose.
var (
	vectorKey      = AESKey(sha256.Sum256([]byte("xfer-aes256 test vector key")))
	vectorWrongKey = AESKey(sha256.Sum256([]byte("xfer-aes256 test vector wrong key")))
)

const (
	vectorPassphrase = "xfer test vector passphrase"
	vectorLogN       = 10 // the lowest accepted work factor keeps vectors cheap
)

const (
	expectSuccess    = "success"
	expectNoIdentity = "no identity"
	expectIntegrity  = "integrity failure"
)

// aesVector is one file of testdata/aes256; docs/format-aes256.md
// describes the file format.
type aesVector struct {
	name       string
	expect     string
	keys       []AESKey
	passphrase string
	fileKey    []byte
	payload    []byte // sha256 of the plaintext, for success
	comment    string
	file       []byte
	// expensive vectors need scrypt at 2^18 or more to make or check.
	expensive bool
}

func (v *aesVector) ids() Identities {
	ids := Identities{AES: v.keys}
	if v.passphrase != "" {
		ids.Passphrase = []byte(v.passphrase)
	}
	return ids
}

func (v *aesVector) marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "expect: %s\n", v.expect)
	for _, k := range v.keys {
		fmt.Fprintf(&b, "key: %x\n", k[:])
	}
	if v.passphrase != "" {
		fmt.Fprintf(&b, "passphrase: %s\n", v.passphrase)
	}
	fmt.Fprintf(&b, "file key: %x\n", v.fileKey)
	if v.payload != nil {
		fmt.Fprintf(&b, "payload: %x\n", v.payload)
	}
	if v.comment != "" {
		fmt.Fprintf(&b, "comment: %s\n", v.comment)
	}
	b.WriteString("\n")
	enc := base64.StdEncoding.EncodeToString(v.file)
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n")
	return b.Bytes()
}

func parseAESVector(name string, data []byte) (*aesVector, error) {
	v := &aesVector{name: name}
	head, body, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, errors.New("no blank line before the file")
	}
	for _, line := range strings.Split(string(head), "\n") {
		key, value, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		var err error
		switch key {
		case "expect":
			v.expect = value
		case "key":
			var k []byte
			if k, err = hex.DecodeString(value); err == nil && len(k) != 32 {
				err = errors.New("key is not 32 bytes")
			}
			if err == nil {
				v.keys = append(v.keys, AESKey(k))
			}
		case "passphrase":
			v.passphrase = value
		case "file key":
			v.fileKey, err = hex.DecodeString(value)
		case "payload":
			v.payload, err = hex.DecodeString(value)
		case "comment":
			v.comment = value
		default:
			err = fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	file, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\n", ""))
	if err != nil {
		return nil, err
	}
	v.file = file
	return v, nil
}

// recordingReader remembers the first 32 bytes read: the file key.
type recordingReader struct {
	r       io.Reader
	fileKey []byte
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if len(r.fileKey) < fileKeySize {
		r.fileKey = append(r.fileKey, p[:min(n, fileKeySize-len(r.fileKey))]...)
	}
	return n, err
}

// sealVector seals plaintext with randomness derived from the vector name.
func sealVector(name string, k aesKEK, plaintext []byte) (file, fileKey []byte) {
	rnd := &recordingReader{r: testRand("vector " + name)}
	var buf bytes.Buffer
	w, err := newAESWriter(&buf, k, writerConfig{rand: rnd})
	if err != nil {
		panic(err)
	}
	if _, err := w.Write(plaintext); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes(), rnd.fileKey
}

// craftVector builds a file chunk by chunk, with the last-chunk flag set as
// given, to make payloads no correct writer produces.
func craftVector(name string, k aesKEK, chunks [][]byte, lastFlags []bool) (file, fileKey []byte) {
	rnd := testRand("vector " + name)
	fileKey = make([]byte, fileKeySize)
	io.ReadFull(rnd, fileKey)
	hdr, streamNonce, err := sealAESHeader(k, fileKey, rnd)
	if err != nil {
		panic(err)
	}
	a := payloadAEAD(fileKey, streamNonce)
	file = hdr
	for i, c := range chunks {
		file = a.Seal(file, chunkNonce(uint64(i), lastFlags[i]), c, nil)
	}
	return file, fileKey
}

// vectorPlaintext is the plaintext of every vector: CSV-like lines, cut to n.
func vectorPlaintext(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%06d,Test Person %d,%d Example Street,%05d Sampletown\n", i, i, i%500+1, 10000+i%90000)
	}
	return b.Bytes()[:n]
}

func sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

func flip(file []byte, i int) []byte {
	f := slices.Clone(file)
	f[i] ^= 0x01
	return f
}

// chunksOf splits a payload (the file after a header of hdrLen bytes).
func chunksOf(file []byte, hdrLen int) [][]byte {
	var cs [][]byte
	for p := file[hdrLen:]; len(p) > 0; {
		n := min(len(p), encChunkSize)
		cs = append(cs, p[:n])
		p = p[n:]
	}
	return cs
}

func join(hdr []byte, chunks ...[]byte) []byte {
	return slices.Concat(append([][]byte{hdr}, chunks...)...)
}

// makeAESVectors builds every vector. Expensive ones are made only when
// withExpensive is set; otherwise they are returned without a file.
func makeAESVectors(withExpensive bool) []*aesVector {
	keyKEK := aesKeyKEK(&vectorKey)
	passKEK := aesPassphraseKEK([]byte(vectorPassphrase), vectorLogN)
	key := []AESKey{vectorKey}
	var vs []*aesVector

	valid := func(name, comment string, k aesKEK, n int, keys []AESKey, pass string) *aesVector {
		pt := vectorPlaintext(n)
		file, fk := sealVector(name, k, pt)
		v := &aesVector{name: name, expect: expectSuccess, keys: keys, passphrase: pass,
			fileKey: fk, payload: sum(pt), comment: comment, file: file}
		vs = append(vs, v)
		return v
	}
	invalid := func(name, expect, comment string, base *aesVector, file []byte) {
		vs = append(vs, &aesVector{name: name, expect: expect, keys: base.keys, passphrase: base.passphrase,
			fileKey: base.fileKey, comment: comment, file: file})
	}

	// Valid files.
	empty := valid("keyfile_empty", "empty plaintext: one empty final chunk", keyKEK, 0, key, "")
	hello := valid("keyfile_hello", "the worked example of docs/format-aes256.md", keyKEK, 12, key, "")
	one := valid("keyfile_one_chunk", "a single short final chunk", keyKEK, 1000, key, "")
	exact := valid("keyfile_chunk_exact", "exactly 64 KiB: one full final chunk, no empty chunk after it", keyKEK, chunkSize, key, "")
	multi := valid("keyfile_multi_chunk", "two full chunks and a short final one", keyKEK, 2*chunkSize+100, key, "")
	plus1 := valid("keyfile_chunk_plus_one", "64 KiB + 1: a full chunk and a 1-byte final chunk", keyKEK, chunkSize+1, key, "")
	vs = append(vs, &aesVector{name: "keyfile_second_key", expect: expectSuccess, keys: []AESKey{vectorWrongKey, vectorKey},
		fileKey: one.fileKey, payload: one.payload, comment: "the second of two keys opens it", file: one.file})
	pass := valid("passphrase_hello", "passphrase, scrypt log_n 10", passKEK, 12, nil, vectorPassphrase)
	valid("passphrase_empty", "passphrase, empty plaintext", passKEK, 0, nil, vectorPassphrase)
	valid("passphrase_multi_chunk", "passphrase, two chunks", passKEK, chunkSize+500, nil, vectorPassphrase)
	expensiveValid := &aesVector{name: "passphrase_log_n_18", expect: expectSuccess, passphrase: vectorPassphrase,
		comment: "passphrase at the default and maximum work factor, log_n 18", expensive: true}
	vs = append(vs, expensiveValid)
	if withExpensive {
		pt := vectorPlaintext(12)
		expensiveValid.file, expensiveValid.fileKey = sealVector(expensiveValid.name, aesPassphraseKEK([]byte(vectorPassphrase), 18), pt)
		expensiveValid.payload = sum(pt)
	}

	// Header damage, key-file header (see the offsets in the spec).
	const (
		offKEKType     = 15
		offKeyID       = 16
		offWrapNonce   = 24
		offWrappedKey  = 36
		offStreamNonce = 84
		offMAC         = 100
	)
	v2 := slices.Clone(one.file)
	copy(v2, "xfer-aes256/v2\n")
	invalid("header_bad_version", expectIntegrity, "magic says version 2", one, v2)
	badType := slices.Clone(one.file)
	badType[offKEKType] = 0x03
	invalid("header_bad_kek_type", expectIntegrity, "kek_type 0x03", one, badType)
	invalid("header_truncated", expectIntegrity, "file cut inside the header", one, one.file[:100])
	invalid("header_only", expectIntegrity, "a complete header and no payload", one, one.file[:keyFileHeaderSize])
	invalid("header_flip_key_id", expectNoIdentity, "key_id altered: no given key matches", one, flip(one.file, offKeyID+3))
	invalid("header_flip_wrap_nonce", expectIntegrity, "wrap_nonce altered: the key matches, unwrapping fails", one, flip(one.file, offWrapNonce))
	invalid("header_flip_wrapped_key", expectIntegrity, "wrapped_key altered", one, flip(one.file, offWrappedKey+40))
	invalid("header_flip_stream_nonce", expectIntegrity, "stream_nonce altered: header MAC fails", one, flip(one.file, offStreamNonce+5))
	invalid("header_flip_mac", expectIntegrity, "header_mac altered", one, flip(one.file, offMAC+31))

	// Payload damage.
	mc := chunksOf(multi.file, keyFileHeaderSize)
	mh := multi.file[:keyFileHeaderSize]
	invalid("chunk_flip_first", expectIntegrity, "a byte of chunk 0 altered", multi, flip(multi.file, keyFileHeaderSize+1000))
	invalid("chunk_flip_last_tag", expectIntegrity, "the last byte of the final chunk's tag altered", one, flip(one.file, len(one.file)-1))
	invalid("truncated_final_chunk", expectIntegrity, "file cut inside the final chunk", multi, multi.file[:len(multi.file)-50])
	invalid("truncated_tag", expectIntegrity, "last byte missing", one, one.file[:len(one.file)-1])
	pc, ph := chunksOf(plus1.file, keyFileHeaderSize), plus1.file[:keyFileHeaderSize]
	invalid("missing_final_chunk", expectIntegrity, "keyfile_chunk_plus_one without its final chunk: the file ends with a non-final chunk", plus1, join(ph, pc[0]))
	invalid("reordered_chunks", expectIntegrity, "chunks 0 and 1 swapped", multi, join(mh, mc[1], mc[0], mc[2]))
	invalid("duplicated_chunk", expectIntegrity, "keyfile_chunk_plus_one with chunk 0 repeated", plus1, join(ph, pc[0], pc[0], pc[1]))
	invalid("dropped_chunk", expectIntegrity, "chunk 1 removed", multi, join(mh, mc[0], mc[2]))
	invalid("trailing_garbage", expectIntegrity, "5 bytes appended after a short final chunk", one, slices.Concat(one.file, []byte("extra")))
	invalid("trailing_garbage_after_full", expectIntegrity, "1 byte appended after a full final chunk", exact, slices.Concat(exact.file, []byte{0}))
	invalid("trailing_empty_chunk_copy", expectIntegrity, "the empty final chunk of keyfile_empty appended again", empty,
		slices.Concat(empty.file, empty.file[keyFileHeaderSize:]))
	full := vectorPlaintext(chunkSize)
	f, fk := craftVector("last_chunk_empty", keyKEK, [][]byte{full, nil}, []bool{false, true})
	vs = append(vs, &aesVector{name: "last_chunk_empty", expect: expectIntegrity, keys: key, fileKey: fk,
		comment: "a full non-final chunk then an empty final chunk (only an empty plaintext may have an empty chunk)", file: f})
	f, fk = craftVector("two_final_chunks", keyKEK, [][]byte{full, []byte("more")}, []bool{true, true})
	vs = append(vs, &aesVector{name: "two_final_chunks", expect: expectIntegrity, keys: key, fileKey: fk,
		comment: "chunk 0 carries the last-chunk flag but chunk 1 follows", file: f})
	f, fk = craftVector("final_flag_missing", keyKEK, [][]byte{[]byte("short")}, []bool{false})
	vs = append(vs, &aesVector{name: "final_flag_missing", expect: expectIntegrity, keys: key, fileKey: fk,
		comment: "a single short chunk sealed without the last-chunk flag", file: f})

	// Wrong or missing secrets.
	vs = append(vs, &aesVector{name: "wrong_key", expect: expectNoIdentity, keys: []AESKey{vectorWrongKey},
		fileKey: hello.fileKey, comment: "opened with a different key", file: hello.file})
	vs = append(vs, &aesVector{name: "keyfile_given_passphrase", expect: expectNoIdentity, passphrase: vectorPassphrase,
		fileKey: hello.fileKey, comment: "key-file file, only a passphrase given", file: hello.file})
	vs = append(vs, &aesVector{name: "wrong_passphrase", expect: expectNoIdentity, passphrase: "not the passphrase",
		fileKey: pass.fileKey, comment: "opened with a different passphrase", file: pass.file})
	vs = append(vs, &aesVector{name: "passphrase_given_key", expect: expectNoIdentity, keys: key,
		fileKey: pass.fileKey, comment: "passphrase file, only a key given", file: pass.file})
	invalid("passphrase_flip_salt", expectNoIdentity, "salt altered: indistinguishable from a wrong passphrase", pass,
		flip(pass.file, len(aesMagic)+2+3))

	// Work factors outside 10..18 are refused before running scrypt.
	f, fk = sealVector("log_n_too_small", aesPassphraseKEK([]byte(vectorPassphrase), 9), vectorPlaintext(12))
	vs = append(vs, &aesVector{name: "log_n_too_small", expect: expectIntegrity, passphrase: vectorPassphrase,
		fileKey: fk, comment: "an otherwise valid file with log_n 9", file: f})
	tooLarge := &aesVector{name: "log_n_too_large", expect: expectIntegrity, passphrase: vectorPassphrase,
		comment: "an otherwise valid file with log_n 19: must be refused without running scrypt", expensive: true}
	vs = append(vs, tooLarge)
	if withExpensive {
		tooLarge.file, tooLarge.fileKey = sealVector(tooLarge.name, aesPassphraseKEK([]byte(vectorPassphrase), 19), vectorPlaintext(12))
	}
	return vs
}

func TestAESVectors(t *testing.T) {
	if *update {
		writeAESVectors(t)
	}
	want := map[string]*aesVector{}
	for _, v := range makeAESVectors(false) {
		want[v.name] = v
	}
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".txt")
		data, err := os.ReadFile(filepath.Join(vectorDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		gen, ok := want[name]
		if !ok {
			t.Errorf("%s: not made by the generator (stale? run with -update)", e.Name())
			continue
		}
		delete(want, name)
		t.Run(name, func(t *testing.T) {
			v, err := parseAESVector(name, data)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !gen.expensive && !bytes.Equal(data, gen.marshal()) {
				t.Errorf("file differs from what the generator makes now: the format or the writer changed (run with -update only if that is intended)")
			}
			counts[v.expect]++
			checkAESVector(t, v, gen.expensive)
		})
	}
	for name := range want {
		t.Errorf("vector %s missing from %s (run with -update)", name, vectorDir)
	}
	t.Logf("vectors: %v", counts)
}

func checkAESVector(t *testing.T, v *aesVector, expensive bool) {
	readers := map[string]func([]byte, Identities, readerConfig) ([]byte, error){
		"NewReader": openStream, "NewReaderAt": openAt,
	}
	if expensive && v.expect == expectSuccess {
		if testing.Short() || raceEnabled {
			t.Skip("needs scrypt at 2^18")
		}
		delete(readers, "NewReaderAt") // one run at 2^18 is enough
	}
	for name, open := range readers {
		got, err := open(v.file, v.ids(), readerConfig{})
		switch v.expect {
		case expectSuccess:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if !bytes.Equal(sum(got), v.payload) {
				t.Errorf("%s: payload hash mismatch", name)
			}
		case expectNoIdentity:
			if category(err) != "no identity" {
				t.Errorf("%s: got %s (%v), want no identity", name, category(err), err)
			}
		case expectIntegrity:
			if category(err) != "integrity" {
				t.Errorf("%s: got %s (%v), want integrity", name, category(err), err)
			}
		default:
			t.Fatalf("unknown expect %q", v.expect)
		}
		if err != nil {
			t.Logf("%s: %v", name, err)
		}
	}
}

// maxFuzzSeed keeps large vectors out of testdata/fuzz: FuzzAESReader adds
// every vector file as a seed when it starts.
const maxFuzzSeed = 2048

func writeAESVectors(t *testing.T) {
	if err := os.RemoveAll(vectorDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(vectorDir, 0o755); err != nil {
		t.Fatal(err)
	}
	fuzzDir := filepath.Join("testdata", "fuzz", "FuzzAESReader")
	if err := os.MkdirAll(fuzzDir, 0o755); err != nil {
		t.Fatal(err)
	}
	detectDir := filepath.Join("testdata", "fuzz", "FuzzDetect")
	if err := os.MkdirAll(detectDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, seed := range map[string]string{
		"armored_whitespace": strings.Repeat(" \r\n", 300) + armor.Header + "\n",
		"age_v1":             "age-encryption.org/v1\n-> X25519 abc\n",
		"aes256_v1":          aesMagic + "\x01",
		"aes256_prefix":      aes256MagicPrefix,
		"zip":                "PK\x03\x04\x14\x00",
	} {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if err := os.WriteFile(filepath.Join(detectDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range makeAESVectors(true) {
		if err := os.WriteFile(filepath.Join(vectorDir, v.name+".txt"), v.marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
		if len(v.file) <= maxFuzzSeed && !v.expensive {
			seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", v.file)
			if err := os.WriteFile(filepath.Join(fuzzDir, "vector_"+v.name), []byte(seed), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
