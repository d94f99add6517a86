//go:build race

package fedtest_test

const raceEnabled = true
