package secret

import (
	"crypto/rand"
	"errors"
	"math"
	"math/big"
	"strings"
)

// The generated zip password is groups of five characters joined by "-",
// such as "Kq7mx-Rm4tz-Hp2wd-Xa9ke": each group one capital letter and four
// lower-case letters or digits. It is read aloud letter by letter ("capital
// K, q, 7, m, x, dash, …"), so the alphabets leave out what sounds or looks
// alike: no I, O, i, l, o, 0 or 1. Letters and digits need no word list
// and no language: the same password reads as well in German as in
// English, and types the same on any keyboard layout but for y and z.
const (
	groupHead  = "ABCDEFGHJKLMNPQRSTUVWXYZ"        // 24
	groupTail  = "abcdefghjkmnpqrstuvwxyz23456789" // 31
	groupTails = 4
	minGroups  = 4
)

// GroupBits is the entropy of one group, in bits: log2(24 × 31^4).
var GroupBits = math.Log2(float64(len(groupHead))) + groupTails*math.Log2(float64(len(groupTail)))

// GenerateZipPassword returns a new zip password from crypto/rand: at
// least four groups (about 97 bits; more groups when minLen asks for a
// longer password), that passes CheckZipPassword(minLen). A draw without
// a digit, or one the estimator happens to score low, is drawn again; that
// costs less than a tenth of a bit.
func GenerateZipPassword(minLen int) (string, error) {
	groups := groupsFor(minLen)
	for range 100 {
		pw, err := drawGroups(groups)
		if err != nil {
			return "", err
		}
		if CheckZipPassword([]byte(pw), minLen) == nil {
			return pw, nil
		}
	}
	return "", errors.New("no generated password passed the policy")
}

// GeneratedBits is the entropy of a password GenerateZipPassword(minLen)
// makes, in bits, before the redraws.
func GeneratedBits(minLen int) float64 {
	return float64(groupsFor(minLen)) * GroupBits
}

// groupsFor is how many groups make a password of at least minLen
// characters.
func groupsFor(minLen int) int {
	groups := minGroups
	for groups*(groupTails+2)-1 < max(minLen, MinPasswordLength) {
		groups++
	}
	return groups
}

func drawGroups(n int) (string, error) {
	var b strings.Builder
	for g := range n {
		if g > 0 {
			b.WriteByte('-')
		}
		c, err := pick(groupHead)
		if err != nil {
			return "", err
		}
		b.WriteByte(c)
		for range groupTails {
			c, err := pick(groupTail)
			if err != nil {
				return "", err
			}
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// pick returns a uniformly random byte of alphabet.
func pick(alphabet string) (byte, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
	if err != nil {
		return 0, err
	}
	return alphabet[i.Int64()], nil
}
