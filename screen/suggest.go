package screen

import "fmt"

// suggest returns ` (did you mean "x"?)` for the name in names closest to
// name, when one is close enough to be a likely typo, and "" otherwise.
// Names compare as header names do (case, spaces and punctuation aside).
func suggest(name string, names []string) string {
	want := []rune(headerName(name))
	best, bestDist := "", len(want)/3+2
	for _, n := range names {
		d := editDistance(want, []rune(headerName(n)))
		if d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Damerau-Levenshtein distance (with adjacent
// transpositions, the commonest typo: "emial") between a and b.
func editDistance(a, b []rune) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
