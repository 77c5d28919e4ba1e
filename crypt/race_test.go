//go:build race

package crypt

// raceEnabled lets slow tests do less under the race detector, which makes
// scrypt about ten times slower.
const raceEnabled = true
