//go:build race

package zipenc

const raceEnabled = true
