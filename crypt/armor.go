package crypt

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"

	"filippo.io/age/armor"
)

// Armored age files (age -a) are the binary file in base64, wrapped at 64
// columns between a header and a footer line. Every line but the last
// holds exactly 48 bytes, so a byte's place in the armor follows from its
// offset once the line ends are known: that is what lets an armored file
// be read at random offsets, like a binary one, without decoding it to
// disk first.

const (
	armorColumns = 64 // base64 characters a full line holds
	armorBytes   = 48 // bytes a full line decodes to
	// maxArmorRuns bounds the index: a file whose line ends switch between
	// LF and CRLF more often than this is refused rather than indexed.
	maxArmorRuns = 1024
)

// armorRun is a stretch of lines with the same line end.
type armorRun struct {
	first int64 // the run's first line (0 is the first line after the header)
	start int64 // offset in the armored file of that line's first character
	eol   int64 // 1 for LF, 2 for CRLF
}

// armoredReaderAt reads the binary age file inside an armored one.
type armoredReaderAt struct {
	src   io.ReaderAt
	runs  []armorRun
	lines int64 // lines of base64
	size  int64 // decoded size
}

// newArmoredReaderAt checks the armor of the file of the given size in src
// with age's own strict reader, indexes its lines, and returns a ReaderAt
// of the binary file it holds and that file's size. Malformed armor is an
// integrity error.
func newArmoredReaderAt(src io.ReaderAt, size int64) (*armoredReaderAt, int64, error) {
	// age's reader is the authority on what is valid armor.
	n, err := io.Copy(io.Discard, armor.NewReader(io.NewSectionReader(src, 0, size)))
	if err != nil {
		return nil, 0, armorErr(err)
	}
	a := &armoredReaderAt{src: src, size: n}
	if err := a.index(io.NewSectionReader(src, 0, size)); err != nil {
		return nil, 0, err
	}
	if want := (n + armorBytes - 1) / armorBytes; a.lines != want {
		return nil, 0, integrityErr("armor: %d lines of base64 for %d bytes", a.lines, n)
	}
	return a, n, nil
}

// index records where the base64 lines are. The armor has passed age's
// reader, so only the layout is read here: leading blank lines, the
// header, lines up to the footer.
func (a *armoredReaderAt) index(r io.Reader) error {
	br := bufio.NewReaderSize(r, 4096)
	var off int64
	started := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && err != io.EOF {
			return armorErr(err) // a line longer than the buffer: not valid armor
		}
		start := off
		off += int64(len(line))
		body := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		eol := int64(len(line) - len(body))
		switch {
		case !started:
			started = string(body) == armor.Header
		case string(body) == armor.Footer:
			return nil
		default:
			if r := len(a.runs); r == 0 || a.runs[r-1].eol != eol {
				if r == maxArmorRuns {
					return integrityErr("armor: line ends switch between LF and CRLF more than %d times", maxArmorRuns)
				}
				a.runs = append(a.runs, armorRun{first: a.lines, start: start, eol: eol})
			}
			a.lines++
		}
		if err == io.EOF {
			return integrityErr("armor: no closing line")
		}
	}
}

// run returns the run that holds line l.
func (a *armoredReaderAt) run(l int64) (r armorRun, next int64) {
	i := len(a.runs) - 1
	for i > 0 && a.runs[i].first > l {
		i-- // few runs: almost always one
	}
	next = a.lines
	if i+1 < len(a.runs) {
		next = a.runs[i+1].first
	}
	return a.runs[i], next
}

// ReadAt decodes the lines that hold p's bytes, reading each stretch of
// lines with one read of the armored file.
func (a *armoredReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	n := 0
	var raw []byte
	var dec [armorBytes]byte
	for n < len(p) && off < a.size {
		first := off / armorBytes
		last := min(off+int64(len(p)-n), a.size) - 1
		r, next := a.run(first)
		lastLine := min(last/armorBytes, next-1)
		stride := armorColumns + r.eol
		span := (lastLine-first)*stride + armorColumns
		if lastLine == a.lines-1 {
			// The last line is shorter, and has no line end to count on.
			span = (lastLine-first)*stride + int64(base64.StdEncoding.EncodedLen(int(a.size-lastLine*armorBytes)))
		}
		if int64(cap(raw)) < span {
			raw = make([]byte, span)
		}
		raw = raw[:span]
		if err := readFullAt(a.src, raw, r.start+(first-r.first)*stride); err != nil {
			return n, classify(err)
		}
		for l := first; l <= lastLine; l++ {
			line := raw[(l-first)*stride:]
			line = line[:min(int64(len(line)), armorColumns)]
			m, err := base64.StdEncoding.Strict().Decode(dec[:], line)
			if err != nil {
				// The file changed since its armor was checked.
				return n, integrityErr("armor: %v", err)
			}
			c := copy(p[n:], dec[off-l*armorBytes:m])
			n += c
			off += int64(c)
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func armorErr(err error) error {
	if _, ok := err.(*sourceError); ok {
		return classify(err)
	}
	return integrityErr("%v", err)
}
