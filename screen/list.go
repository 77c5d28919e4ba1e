package screen

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// HashedFormat starts the first line of a hashed suppression list:
//
//	xfer-suppress-list v2 hmac-sha256-128 salt=<64 hex> entries=<n> variants=<m> key=<spec>
//
// followed by n lines, each the first 16 bytes (32 lower-case hex digits) of
// HMAC-SHA256(salt, normalised key) of an entry, in ascending order without
// repeats, and then m lines, likewise, of the spelling forms (see
// spellingForm) of the entries whose form is not their own key nor
// another entry's key.
const HashedFormat = "xfer-suppress-list v2 hmac-sha256-128"

// hashedV1 starts a hashed list made before spelling variants matched; it
// lacks the spelling forms, so it is refused rather than matched narrower.
const hashedV1 = "xfer-suppress-list v1 "

// saltSize is the length of a hashed list's random HMAC key.
const saltSize = 32

// maxHashedPrealloc bounds what a hashed list's header can make ReadList
// allocate before the entries themselves arrive.
const maxHashedPrealloc = 1 << 24

// List is a loaded suppression list: the keyed hashes of its entries'
// keys, and of the spelling forms of those whose form differs, in one
// compact set (about 9 bytes per hash), never the entries themselves. A
// List is read-only once loaded and may be shared by several Screens.
//
// A row is on the list when its key's spelling form is the spelling form of
// an entry's key, which is one lookup: an entry whose key is its own form
// is in the set by its key, the others by their forms. The set marks the
// hashes of entries' keys, so that a hit can tell whether the list holds
// the row's own key or only another spelling of it.
type List struct {
	// Name identifies the list in reports (by default its file's base name).
	Name string

	key    KeySpec
	salt   []byte // hashed list: the HMAC key
	seeds  [2]maphash.Seed
	hashed bool
	set    hashSet // entries' keys (marked) and the other spelling forms
	stats  ListStats
}

// ListStats describes a list as it was loaded.
type ListStats struct {
	Entries    int  // distinct keys kept
	Duplicates int  // entries that repeated a key already seen (collapsed)
	Empty      int  // entries whose key parts were all empty (ignored)
	Variants   int  // spelling forms held besides the entries' keys
	Hashed     bool // a hashed list, not a plain CSV
}

// Key is the suppression key the list's entries were made with.
func (l *List) Key() KeySpec { return l.key }

// Stats describes the list as loaded.
func (l *List) Stats() ListStats { return l.stats }

// MemoryBytes is what the list holds in memory.
func (l *List) MemoryBytes() int { return l.set.bytes() }

// keyHasher turns a normalised key into the hash a list stores. Each Screen
// has its own: HMAC state is not safe for concurrent use.
type keyHasher struct {
	mac   hash.Hash
	seeds [2]maphash.Seed
	sum   []byte
}

func (l *List) hasher() *keyHasher {
	if l.hashed {
		return &keyHasher{mac: hmac.New(sha256.New, l.salt), sum: make([]byte, 0, sha256.Size)}
	}
	return &keyHasher{seeds: l.seeds}
}

func (k *keyHasher) hash(key []byte) h128 {
	if k.mac == nil {
		return h128{maphash.Bytes(k.seeds[0], key), maphash.Bytes(k.seeds[1], key)}
	}
	k.mac.Reset()
	k.mac.Write(key)
	k.sum = k.mac.Sum(k.sum[:0])
	return h128Of(k.sum)
}

// match reports whether a row whose normalised key is key, and whose
// spelling form is spell, is on the list, and whether the list holds key
// itself (not only another spelling of it). changed reports whether spell
// differs from key. Only a hit costs a second hash, and only when changed.
func (l *List) match(kh *keyHasher, key, spell []byte, changed bool) (hit, exact bool) {
	found, own := l.set.lookup(kh.hash(spell))
	if !found || !changed {
		return found, own
	}
	_, own = l.set.lookup(kh.hash(key))
	return true, own
}

// match looks a row's normalised key up in each list of the group, counting
// in counts (by list name) the lists that hold it. It reports whether any
// list did, and whether any held the key itself rather than only another
// spelling of it.
func (g *keyGroup) match(f *folder, key []byte, counts map[string]int64) (hit, exact bool) {
	spell, changed := spellingForm(f.spell, g.spec, key)
	if changed {
		f.spell = spell // keep the grown buffer; never key itself
	}
	for k, l := range g.lists {
		if h, e := l.match(g.hashers[k], key, spell, changed); h {
			counts[l.Name]++
			hit, exact = true, exact || e
		}
	}
	return hit, exact
}

// OpenList loads the suppression list in the file at path; see ReadList.
func OpenList(path string, key KeySpec) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadList(f, filepath.Base(path), key)
}

// ReadList loads a suppression list: a hashed list (see HashedFormat) or a
// plain CSV whose header names the key's columns (other columns are
// ignored). A plain list needs key; a hashed list carries its own, and key,
// if given, must be the same. Errors name the list and a line number,
// never an entry.
func ReadList(r io.Reader, name string, key KeySpec) (*List, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(HashedFormat) + 3)
	if bytes.HasPrefix(bytes.TrimPrefix(head, []byte("\ufeff")), []byte("xfer-suppress-list")) {
		return readHashed(br, name, key)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("suppression list %s: a plain list needs a suppression key ([suppress] key)", name)
	}
	l := &List{Name: name, key: key, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	hs, vs, stats, err := readPlain(br, name, key, l.hasher())
	if err != nil {
		return nil, err
	}
	hs, vs, stats.Duplicates = sortKeys(hs, vs)
	l.set = setOf(hs, vs)
	stats.Entries, stats.Variants = len(hs), len(vs)
	l.stats = stats
	return l, nil
}

// sortKeys sorts and compacts an entry list's key hashes hs and the hashes
// of their spelling forms vs, leaves out of vs the hashes in hs, and
// returns both and the number of repeated entries collapsed.
func sortKeys(hs, vs []h128) ([]h128, []h128, int) {
	slices.SortFunc(hs, h128.cmp)
	n := len(hs)
	hs = slices.Compact(hs)
	slices.SortFunc(vs, h128.cmp)
	vs = slices.Compact(vs)
	out, i := vs[:0], 0
	for _, v := range vs {
		for i < len(hs) && hs[i].cmp(v) < 0 {
			i++
		}
		if i == len(hs) || hs[i] != v {
			out = append(out, v)
		}
	}
	return hs, out, n - len(hs)
}

// setOf builds a List's set from the hashes of the entries' keys, hs
// (marked), and of the other spelling forms, vs: each distinct and in
// ascending order, none in both.
func setOf(hs, vs []h128) hashSet {
	sb := newSetBuilder(len(hs) + len(vs))
	i, j := 0, 0
	for i < len(hs) || j < len(vs) {
		if i < len(hs) && j < len(vs) && hs[i] == vs[j] {
			j++ // an entry's key is marked, whatever else it is
			continue
		}
		if j == len(vs) || i < len(hs) && hs[i].cmp(vs[j]) < 0 {
			sb.add(hs[i], true)
			i++
		} else {
			sb.add(vs[j], false)
			j++
		}
	}
	return sb.done()
}

// readPlain hashes the key of every row of a plain CSV list (hs) and, when
// it differs, the key's spelling form (vs).
func readPlain(r io.Reader, name string, key KeySpec, kh *keyHasher) (hs, vs []h128, stats ListStats, err error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, stats, fmt.Errorf("suppression list %s: empty file (a header row naming %s is required)", name, key)
	}
	if err != nil {
		return nil, nil, stats, listCSVError(name, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[headerName(h)] = i
	}
	idx := make([]int, len(key))
	for i, p := range key {
		j, ok := cols[p.Column]
		if !ok {
			return nil, nil, stats, fmt.Errorf("suppression list %s: the header has no column %q (the key is %s)", name, p.Column, key)
		}
		idx[i] = j
	}
	var buf, spell []byte
	var f folder
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, stats, listCSVError(name, err)
		}
		buf = buf[:0]
		empty := true
		for i, p := range key {
			if i > 0 {
				buf = append(buf, keySep)
			}
			n := len(buf)
			buf = f.appendKeyPart(buf, []byte(rec[idx[i]]), p.Transform)
			empty = empty && len(buf) == n
		}
		if empty {
			stats.Empty++
			continue
		}
		if len(hs) == maxSetEntries {
			return nil, nil, stats, fmt.Errorf("suppression list %s: more than %d entries", name, maxSetEntries)
		}
		hs = append(hs, kh.hash(buf))
		if form, changed := spellingForm(spell, key, buf); changed {
			spell = form
			vs = append(vs, kh.hash(form))
		}
	}
	return hs, vs, stats, nil
}

func listCSVError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("suppression list %s: line %d: %v", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("suppression list %s: %w", name, err)
}

func readHashed(br *bufio.Reader, name string, key KeySpec) (*List, error) {
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("suppression list %s: line %d: %s", name, line, fmt.Sprintf(format, args...))
	}
	first, err := br.ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, err
	}
	first = strings.TrimRight(strings.TrimPrefix(first, "\ufeff"), "\r\n")
	if strings.HasPrefix(first, hashedV1) {
		return nil, fmt.Errorf("suppression list %s: hashed by an older xfer, without the spelling variants that let Mueller meet Müller; hash the plain list again with 'xfer suppress hash'", name)
	}
	rest, ok := strings.CutPrefix(first, HashedFormat+" ")
	if !ok {
		return nil, bad(1, "not a hashed list this xfer reads (expected %q)", HashedFormat)
	}
	var saltHex, entries, variants, spec string
	for rest != "" {
		var f string
		if strings.HasPrefix(rest, "key=") {
			f, rest = rest, ""
		} else {
			f, rest, _ = strings.Cut(rest, " ")
		}
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "salt":
			saltHex = v
		case "entries":
			entries = v
		case "variants":
			variants = v
		case "key":
			spec = v
		default:
			return nil, bad(1, "unknown header field %q", k)
		}
	}
	salt, err := hex.DecodeString(saltHex)
	if err != nil || len(salt) != saltSize {
		return nil, bad(1, "bad salt (want %d hex digits)", 2*saltSize)
	}
	n, err := strconv.ParseUint(entries, 10, 64)
	if err != nil || n > maxSetEntries {
		return nil, bad(1, "bad entry count")
	}
	m, err := strconv.ParseUint(variants, 10, 64)
	if err != nil || m > maxSetEntries {
		return nil, bad(1, "bad variant count")
	}
	fileKey, err := ParseKeySpec(strings.Split(spec, ","))
	if err != nil || len(fileKey) == 0 {
		return nil, bad(1, "bad key: %v", err)
	}
	if len(key) > 0 && key.String() != fileKey.String() {
		return nil, fmt.Errorf("suppression list %s: hashed with key %s, but the suppression key is %s (hash the list again with --key)", name, fileKey, key)
	}
	l := &List{Name: name, key: fileKey, salt: salt, hashed: true}
	line := 1
	// readBlock reads the next want hashes, which must ascend.
	readBlock := func(want uint64) ([]h128, error) {
		hs := make([]h128, 0, min(want, maxHashedPrealloc))
		var sum [16]byte
		for uint64(len(hs)) < want {
			s, err := br.ReadSlice('\n')
			if len(s) > 0 {
				line++
				s = bytes.TrimRight(s, "\r\n")
				if len(s) != 32 {
					return nil, bad(line, "not a 32-digit hex hash")
				}
				if _, herr := hex.Decode(sum[:], s); herr != nil {
					return nil, bad(line, "not a 32-digit hex hash")
				}
				h := h128Of(sum[:])
				if len(hs) > 0 && h.cmp(hs[len(hs)-1]) <= 0 {
					return nil, bad(line, "entries out of order or repeated (the file was edited: hash the list again)")
				}
				hs = append(hs, h)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				if errors.Is(err, bufio.ErrBufferFull) {
					return nil, bad(line+1, "line too long")
				}
				return nil, err
			}
		}
		if uint64(len(hs)) != want {
			return nil, fmt.Errorf("suppression list %s: %d hashes, but the header says %d (the file is truncated)", name, line-1, n+m)
		}
		return hs, nil
	}
	hs, err := readBlock(n)
	if err != nil {
		return nil, err
	}
	vs, err := readBlock(m)
	if err != nil {
		return nil, err
	}
	if extra, _ := br.Peek(1); len(extra) > 0 {
		return nil, bad(line+1, "more hashes than the header's %d", n+m)
	}
	l.set = setOf(hs, vs)
	l.stats = ListStats{Entries: int(n), Variants: int(m), Hashed: true}
	return l, nil
}

// HashList reads a plain CSV suppression list from src and writes its hashed
// form to dst under a fresh random salt. The hashed list holds no entry in
// clear, but it is pseudonymised personal data, not anonymous: anyone who
// has it can test whether a given person's key is on it.
func HashList(dst io.Writer, src io.Reader, name string, key KeySpec) (ListStats, error) {
	if len(key) == 0 {
		return ListStats{}, errors.New("a suppression key is required (--key or [suppress] key)")
	}
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(len("xfer-suppress-list") + 3)
	if bytes.HasPrefix(bytes.TrimPrefix(head, []byte("\ufeff")), []byte("xfer-suppress-list")) {
		return ListStats{}, fmt.Errorf("suppression list %s is already hashed", name)
	}
	salt := make([]byte, saltSize)
	rand.Read(salt)
	l := &List{key: key, salt: salt, hashed: true}
	hs, vs, stats, err := readPlain(br, name, key, l.hasher())
	if err != nil {
		return stats, err
	}
	hs, vs, stats.Duplicates = sortKeys(hs, vs)
	stats.Entries, stats.Variants, stats.Hashed = len(hs), len(vs), true
	bw := bufio.NewWriterSize(dst, 64<<10)
	fmt.Fprintf(bw, "%s salt=%x entries=%d variants=%d key=%s\n", HashedFormat, salt, len(hs), len(vs), key)
	var b [16]byte
	var line [33]byte
	line[32] = '\n'
	for _, block := range [][]h128{hs, vs} {
		for _, h := range block {
			putH128(b[:], h)
			hex.Encode(line[:32], b[:])
			bw.Write(line[:])
		}
	}
	return stats, bw.Flush()
}

func putH128(b []byte, h h128) {
	for i := range 8 {
		b[i] = byte(h.hi >> (56 - 8*i))
		b[8+i] = byte(h.lo >> (56 - 8*i))
	}
}
