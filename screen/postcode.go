package screen

// ValidPostcode reports whether v is a well-formed UK postcode: the outward
// code (A9, A99, AA9, AA99, A9A or AA9A, with the letters each position
// allows) and the inward code (a digit and two letters, never C, I, K, M, O
// or V), in any case, with or without spaces; or GIR 0AA, or a BFPO number
// (BFPO 1 to BFPO 9999). It checks the format, not that the postcode exists.
// Overseas territories' postcodes (ASCN 1ZZ and the like) are not accepted.
func ValidPostcode(v []byte) bool {
	var pc [9]byte
	n := 0
	for _, c := range v {
		switch {
		case c == ' ' || c == '\t':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if n == len(pc) {
			return false
		}
		pc[n] = c
		n++
	}
	s := string(pc[:n])
	if s == "GIR0AA" {
		return true
	}
	if len(s) > 4 && len(s) <= 8 && s[:4] == "BFPO" {
		for i := 4; i < len(s); i++ {
			if !isDigit(s[i]) {
				return false
			}
		}
		return s[4] != '0'
	}
	if n < 5 || n > 7 {
		return false
	}
	in, out := s[n-3:], s[:n-3]
	if !isDigit(in[0]) || !inwardLetter(in[1]) || !inwardLetter(in[2]) {
		return false
	}
	if !isLetter(out[0]) || out[0] == 'Q' || out[0] == 'V' || out[0] == 'X' {
		return false
	}
	switch len(out) {
	case 2: // A9
		return isDigit(out[1])
	case 3: // A99, AA9, A9A
		switch {
		case isDigit(out[1]) && isDigit(out[2]):
			return true
		case secondLetter(out[1]) && isDigit(out[2]):
			return true
		case isDigit(out[1]) && inString(out[2], "ABCDEFGHJKPSTUW"):
			return true
		}
	case 4: // AA99, AA9A
		if !secondLetter(out[1]) || !isDigit(out[2]) {
			return false
		}
		return isDigit(out[3]) || inString(out[3], "ABEHMNPRVWXY")
	}
	return false
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' }

func secondLetter(c byte) bool { return isLetter(c) && c != 'I' && c != 'J' && c != 'Z' }

func inwardLetter(c byte) bool {
	return isLetter(c) && c != 'C' && c != 'I' && c != 'K' && c != 'M' && c != 'O' && c != 'V'
}

func inString(c byte, s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
