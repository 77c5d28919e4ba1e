package crypt

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"

	"golang.org/x/crypto/scrypt"
)

// The xfer-aes256 format; docs/format-aes256.md is its specification and
// every constant here appears there.
const (
	aesMagic = "xfer-aes256/v1\n"

	kekTypeKeyFile    byte = 0x01
	kekTypePassphrase byte = 0x02

	keyIDSize       = 8
	saltSize        = 16
	wrapNonceSize   = 12
	fileKeySize     = 32
	tagSize         = 16
	wrappedKeySize  = fileKeySize + tagSize
	streamNonceSize = 16
	headerMACSize   = 32

	chunkSize    = 64 * 1024
	encChunkSize = chunkSize + tagSize

	// Accepted scrypt work factors (log2 N). The upper bound is the
	// decryption cap; r and p are fixed.
	minScryptLogN = 10
	scryptR       = 8
	scryptP       = 1

	keyIDLabel   = "xfer-aes256 key id"
	scryptLabel  = "xfer-aes256 scrypt"
	headerLabel  = "xfer-aes256 header"
	payloadLabel = "xfer-aes256 payload"

	// Header sizes: magic, kek_type, KEK parameters, wrap_nonce,
	// wrapped_key, stream_nonce, header_mac.
	keyFileHeaderSize    = len(aesMagic) + 1 + keyIDSize + wrapNonceSize + wrappedKeySize + streamNonceSize + headerMACSize
	passphraseHeaderSize = len(aesMagic) + 1 + 1 + saltSize + wrapNonceSize + wrappedKeySize + streamNonceSize + headerMACSize
)

var (
	_ io.WriteCloser = (*aesWriter)(nil)
	_ io.Reader      = (*aesReader)(nil)
	_ io.ReaderAt    = (*aesReaderAt)(nil)
)

// aesKEK is what wraps the file key: a key file's key, or a passphrase with
// the scrypt work factor to use when sealing.
type aesKEK struct {
	kekType    byte
	key        *AESKey
	passphrase []byte
	logN       int
}

func aesKeyKEK(k *AESKey) aesKEK { return aesKEK{kekType: kekTypeKeyFile, key: k} }

func aesPassphraseKEK(p []byte, logN int) aesKEK {
	return aesKEK{kekType: kekTypePassphrase, passphrase: p, logN: logN}
}

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("crypt: internal error: " + err.Error()) // key is always 32 bytes
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic("crypt: internal error: " + err.Error())
	}
	return a
}

func hkdfKey(secret, salt []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, salt, label, 32)
	if err != nil {
		panic("crypt: internal error: " + err.Error()) // 32 bytes is always in range
	}
	return k
}

func scryptKEK(passphrase, salt []byte, logN int) []byte {
	k, err := scrypt.Key(passphrase, append([]byte(scryptLabel), salt...), 1<<logN, scryptR, scryptP, 32)
	if err != nil {
		panic("crypt: internal error: " + err.Error()) // parameters are range-checked
	}
	return k
}

func headerMAC(fileKey, headerBeforeMAC []byte) []byte {
	m := hmac.New(sha256.New, hkdfKey(fileKey, nil, headerLabel))
	m.Write(headerBeforeMAC)
	return m.Sum(nil)
}

func payloadAEAD(fileKey, streamNonce []byte) cipher.AEAD {
	return newGCM(hkdfKey(fileKey, streamNonce, payloadLabel))
}

// chunkNonce is the 11-byte big-endian chunk counter followed by the
// last-chunk flag.
func chunkNonce(counter uint64, last bool) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[3:11], counter)
	if last {
		n[11] = 0x01
	}
	return n[:]
}

// sealAESHeader builds a header for fileKey, drawing the salt, wrap_nonce
// and stream_nonce from rnd in that order.
func sealAESHeader(k aesKEK, fileKey []byte, rnd io.Reader) (hdr, streamNonce []byte, err error) {
	hdr = make([]byte, 0, passphraseHeaderSize)
	hdr = append(hdr, aesMagic...)
	hdr = append(hdr, k.kekType)
	var kek []byte
	switch k.kekType {
	case kekTypeKeyFile:
		id := k.key.keyID()
		hdr = append(hdr, id[:]...)
		kek = k.key[:]
	case kekTypePassphrase:
		// Readers accept only minScryptLogN..defaultScryptLogN; wider here
		// so tests can make files that must be refused.
		if k.logN < 1 || k.logN > 30 {
			return nil, nil, fmt.Errorf("scrypt work factor %d out of range", k.logN)
		}
		salt := make([]byte, saltSize)
		if _, err := io.ReadFull(rnd, salt); err != nil {
			return nil, nil, fmt.Errorf("reading randomness: %w", err)
		}
		hdr = append(hdr, byte(k.logN))
		hdr = append(hdr, salt...)
		kek = scryptKEK(k.passphrase, salt, k.logN)
	default:
		panic("crypt: internal error: unknown KEK type")
	}
	wrapNonce := make([]byte, wrapNonceSize)
	streamNonce = make([]byte, streamNonceSize)
	if _, err := io.ReadFull(rnd, wrapNonce); err != nil {
		return nil, nil, fmt.Errorf("reading randomness: %w", err)
	}
	if _, err := io.ReadFull(rnd, streamNonce); err != nil {
		return nil, nil, fmt.Errorf("reading randomness: %w", err)
	}
	hdr = append(hdr, wrapNonce...)
	hdr = newGCM(kek).Seal(hdr, wrapNonce, fileKey, hdr)
	hdr = append(hdr, streamNonce...)
	hdr = append(hdr, headerMAC(fileKey, hdr)...)
	return hdr, streamNonce, nil
}

func newAESWriter(dst io.Writer, k aesKEK, cfg writerConfig) (io.WriteCloser, error) {
	rnd := cfg.rand
	if rnd == nil {
		rnd = rand.Reader
	}
	fileKey := make([]byte, fileKeySize)
	if _, err := io.ReadFull(rnd, fileKey); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	hdr, streamNonce, err := sealAESHeader(k, fileKey, rnd)
	if err != nil {
		return nil, err
	}
	if _, err := dst.Write(hdr); err != nil {
		return nil, err
	}
	return &aesWriter{
		dst:  dst,
		aead: payloadAEAD(fileKey, streamNonce),
		buf:  make([]byte, 0, encChunkSize),
	}, nil
}

var errWriterClosed = errors.New("write after Close")

// aesWriter buffers one chunk of plaintext. A full chunk is sealed only
// once more data arrives, because only then is it known not to be the last.
type aesWriter struct {
	dst     io.Writer
	aead    cipher.AEAD
	buf     []byte // plaintext of the current chunk; capacity for its tag
	counter uint64
	err     error
	closed  bool
}

func (w *aesWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := 0
	for len(p) > 0 {
		if len(w.buf) == chunkSize {
			if err := w.flush(false); err != nil {
				w.err = err
				return total, err
			}
		}
		n := copy(w.buf[len(w.buf):chunkSize], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		total += n
	}
	return total, nil
}

// Close seals and writes the last chunk. It does not close the underlying
// Writer.
func (w *aesWriter) Close() error {
	if w.closed {
		return nil
	}
	if w.err != nil {
		return w.err
	}
	if err := w.flush(true); err != nil {
		w.err = err
		return err
	}
	w.closed = true
	w.err = errWriterClosed
	return nil
}

func (w *aesWriter) flush(last bool) error {
	if w.counter == math.MaxUint64 {
		return errors.New("file too large for the aes256 format")
	}
	out := w.aead.Seal(w.buf[:0], chunkNonce(w.counter, last), w.buf, nil)
	w.counter++
	w.buf = w.buf[:0]
	n, err := w.dst.Write(out)
	if err == nil && n < len(out) {
		err = io.ErrShortWrite
	}
	return err
}

// aesHeader is a parsed xfer-aes256 header.
type aesHeader struct {
	kekType     byte
	keyID       [keyIDSize]byte
	logN        int
	salt        []byte
	wrapNonce   []byte
	wrappedKey  []byte
	streamNonce []byte
	mac         []byte
	raw         []byte // the whole header as read
}

// parseAESHeader reads exactly one header from r. It checks the structure
// only; openAESHeader authenticates it.
func parseAESHeader(r io.Reader) (*aesHeader, error) {
	pre := make([]byte, len(aesMagic)+1, passphraseHeaderSize)
	if _, err := io.ReadFull(r, pre); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return nil, integrityErr("aes256 header is truncated")
		}
		return nil, classify(err)
	}
	if string(pre[:len(aesMagic)]) != aesMagic {
		if bytes.HasPrefix(pre, []byte(aes256MagicPrefix)) {
			return nil, integrityErr("unsupported xfer-aes256 version (this xfer reads %q)", aesMagic[:len(aesMagic)-1])
		}
		return nil, integrityErr("not an xfer-aes256 file")
	}
	h := &aesHeader{kekType: pre[len(aesMagic)]}
	var size int
	switch h.kekType {
	case kekTypeKeyFile:
		size = keyFileHeaderSize
	case kekTypePassphrase:
		size = passphraseHeaderSize
	default:
		return nil, integrityErr("aes256 header has unknown key type 0x%02x", h.kekType)
	}
	h.raw = pre[:size]
	if _, err := io.ReadFull(r, h.raw[len(pre):]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return nil, integrityErr("aes256 header is truncated")
		}
		return nil, classify(err)
	}
	rest := h.raw[len(pre):]
	take := func(n int) []byte {
		b := rest[:n:n]
		rest = rest[n:]
		return b
	}
	switch h.kekType {
	case kekTypeKeyFile:
		copy(h.keyID[:], take(keyIDSize))
	case kekTypePassphrase:
		h.logN = int(take(1)[0])
		h.salt = take(saltSize)
	}
	h.wrapNonce = take(wrapNonceSize)
	h.wrappedKey = take(wrappedKeySize)
	h.streamNonce = take(streamNonceSize)
	h.mac = take(headerMACSize)
	return h, nil
}

// openAESHeader finds the file key with one of ids and checks the header
// MAC. It returns the payload AEAD.
func openAESHeader(h *aesHeader, ids Identities, cfg readerConfig) (cipher.AEAD, error) {
	aad := h.raw[:len(h.raw)-headerMACSize-streamNonceSize-wrappedKeySize]
	var fileKey []byte
	switch h.kekType {
	case kekTypeKeyFile:
		if len(ids.AES) == 0 {
			return nil, noIdentityErr("the file is sealed with an AES key file (key id %x), but no AES key was given", h.keyID)
		}
		matched := false
		for i := range ids.AES {
			k := &ids.AES[i]
			if k.keyID() != h.keyID {
				continue
			}
			matched = true
			fk, err := newGCM(k[:]).Open(nil, h.wrapNonce, h.wrappedKey, aad)
			if err == nil {
				fileKey = fk
				break
			}
		}
		if fileKey == nil {
			if matched {
				// The right key fails only if the header was changed.
				return nil, integrityErr("the AES key matches the file's key id but its wrapped file key fails authentication: the header was altered")
			}
			return nil, noIdentityErr("none of the given AES keys is the file's key (key id %x)", h.keyID)
		}
	case kekTypePassphrase:
		if h.logN < minScryptLogN || h.logN > cfg.maxLogN() {
			return nil, integrityErr("aes256 header asks for scrypt work factor 2^%d, outside the accepted 2^%d..2^%d", h.logN, minScryptLogN, cfg.maxLogN())
		}
		if len(ids.Passphrase) == 0 {
			return nil, noIdentityErr("the file is sealed with a passphrase, but no passphrase was given")
		}
		kek := scryptKEK(ids.Passphrase, h.salt, h.logN)
		fk, err := newGCM(kek).Open(nil, h.wrapNonce, h.wrappedKey, aad)
		if err != nil {
			// A wrong passphrase and an altered header look the same here.
			return nil, noIdentityErr("wrong passphrase (or the file's header was altered)")
		}
		fileKey = fk
	}
	mac := headerMAC(fileKey, h.raw[:len(h.raw)-headerMACSize])
	if !hmac.Equal(mac, h.mac) {
		return nil, integrityErr("aes256 header MAC mismatch: the header was altered")
	}
	return payloadAEAD(fileKey, h.streamNonce), nil
}

func newAESReader(src io.Reader, ids Identities, cfg readerConfig) (io.Reader, error) {
	br, ok := src.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(src)
	}
	h, err := parseAESHeader(br)
	if err != nil {
		return nil, err
	}
	a, err := openAESHeader(h, ids, cfg)
	if err != nil {
		return nil, err
	}
	return &aesReader{
		src:  br,
		aead: a,
		ct:   make([]byte, encChunkSize),
		pt:   make([]byte, 0, chunkSize),
	}, nil
}

// aesReader decrypts the payload chunk by chunk. Whether a chunk is the last
// one is decided by its position (the source ends after it), never by trying
// both flags: trial decryption is used only to word the error.
type aesReader struct {
	src     *bufio.Reader
	aead    cipher.AEAD
	ct, pt  []byte
	unread  []byte // backed by pt
	counter uint64
	err     error // sticky; io.EOF once the last chunk is decrypted
}

func (r *aesReader) Read(p []byte) (int, error) {
	for len(r.unread) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if err := r.next(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.unread)
	r.unread = r.unread[n:]
	return n, nil
}

// next decrypts the next chunk into r.unread.
func (r *aesReader) next() error {
	n, err := io.ReadFull(r.src, r.ct)
	last := false
	switch {
	case err == io.EOF:
		if r.counter == 0 {
			return integrityErr("the payload is missing: the file ends after its header")
		}
		return integrityErr("file is truncated: it ends before the final chunk")
	case err == io.ErrUnexpectedEOF:
		last = true
	case err != nil:
		return classify(err)
	default:
		if _, err := r.src.Peek(1); err == io.EOF {
			last = true
		} else if err != nil {
			return classify(err)
		}
	}
	ct := r.ct[:n]
	if len(ct) < tagSize {
		return integrityErr("file is truncated: chunk %d is shorter than its tag", r.counter)
	}
	pt, err := r.aead.Open(r.pt[:0], chunkNonce(r.counter, last), ct, nil)
	if err != nil {
		return r.diagnose(ct, last)
	}
	if last && len(pt) == 0 && r.counter > 0 {
		return integrityErr("empty final chunk after chunk %d: the file was altered", r.counter-1)
	}
	if r.counter == math.MaxUint64 {
		return integrityErr("too many chunks")
	}
	r.counter++
	r.unread = pt
	if last {
		r.err = io.EOF
	}
	return nil
}

// diagnose words the error for a chunk that failed authentication, by
// checking whether it would open with the other last-chunk flag.
func (r *aesReader) diagnose(ct []byte, last bool) error {
	if _, err := r.aead.Open(r.pt[:0], chunkNonce(r.counter, !last), ct, nil); err == nil {
		if last {
			return integrityErr("file is truncated: chunk %d is not the final chunk, but nothing follows it", r.counter)
		}
		return integrityErr("trailing data after the final chunk (chunk %d)", r.counter)
	}
	return integrityErr("chunk %d fails authentication: the file was altered or truncated", r.counter)
}

// aesPayloadLayout checks that a payload of encSize bytes is a possible
// STREAM and returns its chunk count and plaintext size.
func aesPayloadLayout(encSize int64) (chunks, size int64, err error) {
	if encSize < tagSize {
		return 0, 0, integrityErr("file is truncated: the payload is shorter than one chunk")
	}
	if encSize > math.MaxInt64-encChunkSize {
		return 0, 0, integrityErr("file too large")
	}
	chunks = (encSize + encChunkSize - 1) / encChunkSize
	lastSize := encSize - (chunks-1)*encChunkSize
	if lastSize < tagSize {
		return 0, 0, integrityErr("file size is impossible: the final chunk would be shorter than its tag")
	}
	if lastSize == tagSize && chunks > 1 {
		return 0, 0, integrityErr("file size is impossible: the final chunk would be empty")
	}
	return chunks, encSize - chunks*tagSize, nil
}

func newAESReaderAt(src io.ReaderAt, size int64, ids Identities, cfg readerConfig) (io.ReaderAt, int64, error) {
	h, err := parseAESHeader(io.NewSectionReader(src, 0, size))
	if err != nil {
		return nil, 0, err
	}
	a, err := openAESHeader(h, ids, cfg)
	if err != nil {
		return nil, 0, err
	}
	payloadOff := int64(len(h.raw))
	encSize := size - payloadOff
	chunks, ptSize, err := aesPayloadLayout(encSize)
	if err != nil {
		return nil, 0, err
	}
	r := &aesReaderAt{src: src, off: payloadOff, encSize: encSize, size: ptSize, chunks: chunks, aead: a}
	// Authenticate the final chunk now: it fixes the plaintext size.
	final, err := r.decryptChunk(chunks - 1)
	if err != nil {
		return nil, 0, err
	}
	r.cache.Store(final)
	return r, ptSize, nil
}

// aesReaderAt reads chunks where their positions say they are. It is safe
// for concurrent use: the cache is an immutable chunk behind an atomic
// pointer.
type aesReaderAt struct {
	src     io.ReaderAt
	off     int64 // where the payload starts in src
	encSize int64 // payload size
	size    int64 // plaintext size
	chunks  int64
	aead    cipher.AEAD
	cache   atomic.Pointer[plainChunk]
}

type plainChunk struct {
	index int64
	data  []byte
}

func (r *aesReaderAt) decryptChunk(i int64) (*plainChunk, error) {
	encOff := i * encChunkSize
	buf := make([]byte, min(r.encSize-encOff, encChunkSize))
	if err := readFullAt(r.src, buf, r.off+encOff); err != nil {
		return nil, classify(err)
	}
	last := i == r.chunks-1
	pt, err := r.aead.Open(buf[:0], chunkNonce(uint64(i), last), buf, nil)
	if err != nil {
		if last {
			return nil, integrityErr("final chunk fails authentication: the file was truncated, extended or altered")
		}
		return nil, integrityErr("chunk %d fails authentication: the file was altered", i)
	}
	return &plainChunk{index: i, data: pt}, nil
}

func (r *aesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for len(p) > 0 && off < r.size {
		i := off / chunkSize
		c := r.cache.Load()
		if c == nil || c.index != i {
			var err error
			if c, err = r.decryptChunk(i); err != nil {
				return n, err
			}
			r.cache.Store(c)
		}
		m := copy(p, c.data[off-i*chunkSize:])
		p = p[m:]
		off += int64(m)
		n += m
	}
	if off == r.size {
		return n, io.EOF
	}
	return n, nil
}
