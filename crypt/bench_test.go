package crypt

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age"
)

const benchSize = 16 << 20

func benchModes(b *testing.B) []mode {
	x, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	key, err := GenerateAESKey()
	if err != nil {
		b.Fatal(err)
	}
	return []mode{
		{"age", EncryptOptions{Recipients: []age.Recipient{x.Recipient()}}, Identities{Age: []age.Identity{x}}, FormatAge},
		{"aes256", EncryptOptions{Cipher: CipherAES256, AESKey: key}, Identities{AES: []AESKey{*key}}, FormatAES256},
	}
}

func BenchmarkEncrypt(b *testing.B) {
	pt := testPlaintext(benchSize)
	for _, m := range benchModes(b) {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				w, err := NewWriter(io.Discard, m.opts)
				if err != nil {
					b.Fatal(err)
				}
				// 32 KiB writes, as io.Copy makes them.
				for p := pt; len(p) > 0; p = p[min(len(p), 32<<10):] {
					if _, err := w.Write(p[:min(len(p), 32<<10)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	pt := testPlaintext(benchSize)
	for _, m := range benchModes(b) {
		file := seal(b, m.opts, writerConfig{}, pt)
		b.Run(m.name+"/Reader", func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				r, _, err := NewReader(bytes.NewReader(file), m.ids)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(m.name+"/ReaderAt", func(b *testing.B) {
			b.SetBytes(benchSize)
			for b.Loop() {
				ra, n, _, err := NewReaderAt(bytes.NewReader(file), int64(len(file)), m.ids)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, io.NewSectionReader(ra, 0, n)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
