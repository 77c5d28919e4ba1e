// Package addrgen generates realistic, entirely fictitious UK postal-marketing
// address CSV for tests, benchmarks and the demo. The output is deterministic
// for a given seed, valid RFC 4180 CSV, and exercises what real files contain:
// UTF-8 names, quoted fields with commas, quotes and embedded newlines.
package addrgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

// Header is the column list of generated files.
const Header = "customer_id,title,first_name,last_name,address_1,address_2,town,county,postcode,email,phone,opt_in_date\r\n"

var (
	titles = []string{"Mr", "Mrs", "Ms", "Miss", "Dr", "Mx", "Prof", ""}
	first  = []string{"Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia",
		"Zoë", "Siobhán", "Łukasz", "Chloé", "Dáithí", "Aoife", "Björn", "François",
		"José", "Renée", "Niamh", "Seán", "Mohammed", "Priya", "Oluwaseun", "Anaïs",
		"Jürgen", "Małgorzata", "Ciarán", "Eilídh", "Rhys", "Gwenllïan", "Søren", "Inés"}
	last = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson",
		"Davies", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts",
		"O'Brien", "McDonald", "Ó Súilleabháin", "Nowak", "Müller", "Nguyễn", "Patel",
		"Khan", "Fitzgerald-Smythe", "van der Berg", "D'Arcy", "Öztürk", "García", "Ní Bhriain"}
	streets = []string{"High Street", "Station Road", "Main Street", "Park Road", "Church Lane",
		"Victoria Road", "Green Lane", "Manor Road", "Church Street", "Kings Road",
		"Queen's Avenue", "Mill Lane", "Heol y Frenhines", "Rue de l'Église"}
	buildings = []string{"Flat %d, Rose Court", "Apartment %d, The Maltings", "Unit %d, Riverside Works",
		"%d \"The Willows\"", "Suite %d, Ty Gwyn"}
	towns = []struct{ town, county, area string }{
		{"London", "Greater London", "SW"}, {"Manchester", "Greater Manchester", "M"},
		{"Birmingham", "West Midlands", "B"}, {"Leeds", "West Yorkshire", "LS"},
		{"Glasgow", "Lanarkshire", "G"}, {"Cardiff", "South Glamorgan", "CF"},
		{"Bristol", "Avon", "BS"}, {"Newcastle upon Tyne", "Tyne and Wear", "NE"},
		{"Belfast", "County Antrim", "BT"}, {"Edinburgh", "Midlothian", "EH"},
		{"Aberystwyth", "Ceredigion", "SY"}, {"Norwich", "Norfolk", "NR"},
	}
	// inward letters of UK postcodes never include C, I, K, M, O or V
	inward  = "ABDEFGHJLNPQRSTUWXYZ"
	domains = []string{"example.com", "example.org", "example.net", "mail.example.co.uk"}
)

// Write writes a header and then rows until at least size bytes (header
// included) have been written, and returns the number of data rows. Rows are
// never cut: the file ends with a complete row and a newline.
func Write(w io.Writer, size int64, seed uint64) (rows int64, err error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n, err := bw.WriteString(Header)
	if err != nil {
		return 0, err
	}
	written := int64(n)
	line := make([]byte, 0, 512)
	for written < size {
		rows++
		line = appendRow(line[:0], r, rows)
		n, err := bw.Write(line)
		if err != nil {
			return rows, err
		}
		written += int64(n)
	}
	return rows, bw.Flush()
}

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// appendQuoted appends s as a CSV field, quoting it when it needs quoting.
func appendQuoted(b []byte, s string) []byte {
	need := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			need = true
		}
	}
	if !need {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func appendRow(b []byte, r *rand.Rand, id int64) []byte {
	fn, ln := pick(r, first), pick(r, last)
	t := towns[r.IntN(len(towns))]
	b = append(b, 'C')
	b = strconv.AppendInt(b, 10_000_000+id, 10)
	b = append(b, ',')
	b = append(b, pick(r, titles)...)
	b = append(b, ',')
	b = appendQuoted(b, fn)
	b = append(b, ',')
	b = appendQuoted(b, ln)
	b = append(b, ',')
	addr1 := strconv.Itoa(1+r.IntN(240)) + " " + pick(r, streets)
	switch r.IntN(10) {
	case 0: // a building line with a comma, and sometimes quotes
		addr1 = fmt.Sprintf(pick(r, buildings), 1+r.IntN(60)) + ", " + addr1
	case 1: // a line break inside the field, as address exports often have
		addr1 = fmt.Sprintf(pick(r, buildings), 1+r.IntN(60)) + "\n" + addr1
	}
	b = appendQuoted(b, addr1)
	b = append(b, ',')
	if r.IntN(4) == 0 {
		b = append(b, "Off "...)
		b = append(b, pick(r, streets)...)
	}
	b = append(b, ',')
	b = appendQuoted(b, t.town)
	b = append(b, ',')
	b = append(b, t.county...)
	b = append(b, ',')
	b = append(b, t.area...)
	b = strconv.AppendInt(b, int64(1+r.IntN(20)), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.IntN(10)), 10)
	b = append(b, inward[r.IntN(len(inward))], inward[r.IntN(len(inward))])
	b = append(b, ',')
	b = appendLowerASCII(b, fn)
	b = append(b, '.')
	b = appendLowerASCII(b, ln)
	b = strconv.AppendInt(b, int64(r.IntN(100)), 10)
	b = append(b, '@')
	b = append(b, pick(r, domains)...)
	b = append(b, ",07"...)
	b = strconv.AppendInt(b, int64(100_000_000+r.IntN(900_000_000)), 10)
	b = append(b, ',')
	b = fmt.Appendf(b, "20%02d-%02d-%02d", 15+r.IntN(11), 1+r.IntN(12), 1+r.IntN(28))
	return append(b, '\r', '\n')
}

// appendLowerASCII appends the ASCII letters of s in lower case, so that
// generated e-mail addresses stay plausible.
func appendLowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return b
}
