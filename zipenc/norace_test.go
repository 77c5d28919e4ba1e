//go:build !race

package zipenc

const raceEnabled = false
