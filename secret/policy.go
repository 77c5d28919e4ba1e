package secret

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// MinPasswordLength is the built-in minimum length of a zip password;
// configuration can raise it, never lower it.
const MinPasswordLength = 10

// MinGuesses is how many guesses the strength estimate (zxcvbn) must put a
// zip password at: 10^8, zxcvbn's score 3 ("safely unguessable: moderate
// protection from an offline slow-hash attack"). A password below it is
// made of what guessers try first: common passwords, words and names,
// dates, keyboard rows, sequences.
const MinGuesses = 1e8

// maxEstimateRunes bounds the part of a password the estimator looks at:
// its cost grows quickly with length, and a longer prefix only makes the
// estimate larger.
const maxEstimateRunes = 64

// commonHere are words a password of a German or British client is often
// built from that zxcvbn's English lists lack or rank low, plus xfer's own
// vocabulary. zxcvbn treats them as a small dictionary.
var commonHere = []string{
	"xfer", "zip", "passwort", "kennwort", "password", "geheim", "secret",
	"sommer", "winter", "herbst", "fruehling", "frühling", "summer", "spring", "autumn",
	"januar", "februar", "maerz", "märz", "april", "mai", "juni", "juli", "august",
	"september", "oktober", "november", "dezember",
	"hallo", "willkommen", "schatz", "fussball", "fußball", "sonne", "mailing",
	"adressen", "adresse", "post", "kunde", "firma", "versand", "daten",
	"berlin", "hamburg", "muenchen", "münchen", "koeln", "köln", "deutschland",
}

// CheckZipPassword enforces the zip password policy on exactly the bytes
// that will be used: one line of visible characters (CheckShape), at least
// minLen characters (never fewer than MinPasswordLength) with upper case,
// lower case and digits, and at least MinGuesses by the strength
// estimate. The error matches ErrPolicy and says what is missing or why it
// is guessable, never the password or a part of it.
func CheckZipPassword(pw []byte, minLen int) error {
	const what = "zip password"
	if err := CheckShape(what, pw); err != nil {
		return err
	}
	minLen = max(minLen, MinPasswordLength)
	var upper, lower, digit bool
	for _, r := range string(pw) {
		upper = upper || unicode.IsUpper(r)
		lower = lower || unicode.IsLower(r)
		digit = digit || unicode.IsDigit(r)
	}
	var missing []string
	if n := utf8.RuneCount(pw); n < minLen {
		missing = append(missing, fmt.Sprintf("at least %d characters (it has %d)", minLen, n))
	}
	if !upper {
		missing = append(missing, "an upper-case letter")
	}
	if !lower {
		missing = append(missing, "a lower-case letter")
	}
	if !digit {
		missing = append(missing, "a digit")
	}
	if len(missing) > 0 {
		return &PolicyError{What: what, Why: "it needs " + strings.Join(missing, ", ")}
	}
	if guesses, why := estimate(pw); guesses < MinGuesses {
		return &PolicyError{What: what, Why: fmt.Sprintf("it is too easy to guess%s: a strength estimate (zxcvbn) puts it at about %s guesses, the policy wants at least %s",
			why, roughly(guesses), roughly(MinGuesses))}
	}
	return nil
}

// estimate returns the strength estimate of pw in guesses, and a
// description of what makes it guessable (empty when nothing in
// particular does), without any part of pw.
func estimate(pw []byte) (float64, string) {
	s := string(pw)
	if utf8.RuneCountInString(s) > maxEstimateRunes {
		s = string([]rune(s)[:maxEstimateRunes])
	}
	r := zxcvbn.PasswordStrength(s, commonHere)
	var parts []string
	seen := map[string]bool{}
	for _, m := range r.Sequence {
		if d := describe(m); d != "" && !seen[d] {
			seen[d] = true
			parts = append(parts, d)
		}
	}
	if len(parts) == 0 {
		return r.Guesses, ""
	}
	return r.Guesses, " (it is built from " + strings.Join(parts, ", ") + ")"
}

// describe names the kind of a zxcvbn match, never its text.
func describe(m *match.Match) string {
	var d string
	switch m.Pattern {
	case "dictionary":
		switch m.DictionaryName {
		case "passwords":
			d = "a common password"
		case "male_names", "female_names", "surnames":
			d = "a common name"
		case "user_inputs":
			d = "a season, a month, a city or another word common here"
		default:
			d = "a common word"
		}
		if m.L33t {
			d += " with look-alike substitutions such as 0 for o"
		}
		if m.Reversed {
			d += " spelt backwards"
		}
	case "date":
		d = "a date or year"
	case "regex":
		d = "a year"
	case "sequence":
		d = "a sequence such as abc or 123"
	case "repeat":
		d = "a repetition"
	case "spatial":
		d = "a keyboard pattern such as qwertz"
	}
	return d
}

// roughly prints a number of guesses as a power of ten a person reads.
func roughly(g float64) string {
	switch e := math.Floor(math.Log10(max(g, 1))); {
	case e < 3:
		return fmt.Sprintf("%.0f", g)
	case e < 6:
		return fmt.Sprintf("%.0f thousand", g/1e3)
	case e < 9:
		return fmt.Sprintf("%.0f million", g/1e6)
	case e < 12:
		return fmt.Sprintf("%.0f billion", g/1e9)
	default:
		return fmt.Sprintf("10^%.0f", e)
	}
}
