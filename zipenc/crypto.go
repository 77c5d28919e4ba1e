package zipenc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"hash"
)

// WinZip AES constants (https://www.winzip.com/en/support/aes-encryption/).
const (
	methodAES      = 99
	extraAES       = 0x9901
	aesExtraLen    = 7
	pbkdf2Rounds   = 1000
	verifierLen    = 2
	macLen         = 10 // HMAC-SHA1 truncated to 80 bits
	strength256    = 3
	writeSaltLen   = 16
	writeKeyLen    = 32
	vendorVersion1 = 1 // AE-1: real CRC-32 stored
	vendorVersion2 = 2 // AE-2: CRC-32 field is zero
)

// keyLenForStrength returns the AES key length for the AES extra field's
// strength byte (1, 2, 3 = AES-128, -192, -256), or 0 if unknown. The salt is
// half the key length.
func keyLenForStrength(s uint8) int {
	switch s {
	case 1:
		return 16
	case 2:
		return 24
	case 3:
		return 32
	}
	return 0
}

type entryKeys struct {
	aes, mac []byte
	verifier [verifierLen]byte
}

// deriveKeys is a variable so that the fuzz test can memoise it: PBKDF2
// would otherwise dominate every fuzz execution.
var deriveKeys = func(password, salt []byte, keyLen int) (entryKeys, error) {
	dk, err := pbkdf2.Key(sha1.New, string(password), salt, pbkdf2Rounds, 2*keyLen+verifierLen)
	if err != nil {
		return entryKeys{}, err
	}
	k := entryKeys{aes: dk[:keyLen], mac: dk[keyLen : 2*keyLen]}
	copy(k.verifier[:], dk[2*keyLen:])
	return k, nil
}

// entryCipher is the per-entry encryption state: AES-CTR keystream and the
// HMAC-SHA1 over the ciphertext.
type entryCipher struct {
	ctr *ctrStream
	mac hash.Hash
}

func newEntryCipher(k entryKeys) (*entryCipher, error) {
	b, err := aes.NewCipher(k.aes)
	if err != nil {
		return nil, err
	}
	return &entryCipher{ctr: newCTR(b), mac: hmac.New(sha1.New, k.mac)}, nil
}

// sum returns the truncated HMAC over everything written so far.
func (c *entryCipher) sum() [macLen]byte {
	var out [macLen]byte
	var full [sha1.Size]byte
	copy(out[:], c.mac.Sum(full[:0]))
	return out
}

// ctrBatch is the number of counter blocks encrypted per refill. Encrypting
// them together keeps the per-call overhead of cipher.Block off the per-byte
// path.
const ctrBatch = 32

// ctrStream is AES in counter mode as WinZip (Brian Gladman's fileenc.c)
// defines it: a 16-byte counter block whose first 8 bytes are a
// little-endian counter starting at 1, the rest zero. Go's cipher.NewCTR
// counts big-endian and cannot be used.
type ctrStream struct {
	block cipher.Block
	ctr   uint64
	ks    [ctrBatch * aes.BlockSize]byte
	pos   int // next unused keystream byte in ks
}

var _ cipher.Stream = (*ctrStream)(nil)

func newCTR(b cipher.Block) *ctrStream {
	s := &ctrStream{block: b}
	s.pos = len(s.ks)
	return s
}

func (s *ctrStream) refill() {
	for i := 0; i < len(s.ks); i += aes.BlockSize {
		s.ctr++
		blk := s.ks[i : i+aes.BlockSize]
		binary.LittleEndian.PutUint64(blk, s.ctr)
		clear(blk[8:])
		s.block.Encrypt(blk, blk)
	}
	s.pos = 0
}

// XORKeyStream XORs src with the keystream into dst; dst and src may be the
// same slice.
func (s *ctrStream) XORKeyStream(dst, src []byte) {
	if len(dst) < len(src) {
		panic("zipenc: output smaller than input")
	}
	for len(src) > 0 {
		if s.pos == len(s.ks) {
			s.refill()
		}
		n := subtle.XORBytes(dst, src, s.ks[s.pos:])
		s.pos += n
		dst, src = dst[n:], src[n:]
	}
}
