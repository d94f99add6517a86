package score

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them, so test
// with errors.Is.
var (
	// ErrBuckets reports a bucket count outside 1..MaxBuckets.
	ErrBuckets = errors.New("bucket count out of range")
	// ErrCuts reports cut points that are not in ascending order, or too many
	// of them for a uint8 score.
	ErrCuts = errors.New("invalid cut points")
	// ErrHistogram reports a malformed histogram: edge/count lengths that do not
	// match, edges not strictly ascending, negative counts, or no values.
	ErrHistogram = errors.New("invalid histogram")
)

// Cuts thresholds scores by explicit ascending cut points: score = 1 + number
// of cuts c with v >= c (higher is better); for recency use LowerIsBetter.
//
// With n points the scores are 1..n+1, so four points make a 1..5 score.
//
// Higher is better (frequency, monetary): each point is the inclusive lower
// bound of the next score. Points {2, 3, 5, 10} on frequency give
//
//	v < 2 → 1,  2 ≤ v < 3 → 2,  3 ≤ v < 5 → 3,  5 ≤ v < 10 → 4,  v ≥ 10 → 5
//
// so "F ≥ 5 scores at least 4" is written as a point 5. Money is in cents:
// "M ≥ 500" (currency units) is the point 50000.
//
// LowerIsBetter (recency in days): score = 1 + number of cuts c with v < c,
// so score n+1 is the most recent band and each point is the inclusive lower
// bound of the next worse band. Points {30, 90, 180, 365} give
//
//	v < 30 → 5,  30 ≤ v < 90 → 4,  90 ≤ v < 180 → 3,  180 ≤ v < 365 → 2,  v ≥ 365 → 1
//
// which is "R < 30 days scores 5" as analysts write it.
//
// Equal points are allowed (the score between them is never given); points
// out of order are rejected by Validate. Unlike NTile, equal values always
// get equal scores.
type Cuts struct {
	Points        []int64
	LowerIsBetter bool
}

// Validate reports whether the points are non-decreasing and few enough
// (at most MaxBuckets−1) for the scores to fit a uint8.
func (c Cuts) Validate() error {
	if len(c.Points) > MaxBuckets-1 {
		return fmt.Errorf("%d cut points, at most %d: %w", len(c.Points), MaxBuckets-1, ErrCuts)
	}
	for i := 1; i < len(c.Points); i++ {
		if c.Points[i] < c.Points[i-1] {
			return fmt.Errorf("point %d (%d) is below point %d (%d): %w",
				i, c.Points[i], i-1, c.Points[i-1], ErrCuts)
		}
	}
	return nil
}

// Score returns the score of v, 1..len(Points)+1 (see the type's doc). It
// never panics: with unordered points it still counts the points passed, and
// it saturates at MaxBuckets; call Validate once to reject such cuts.
func (c Cuts) Score(v int64) uint8 {
	passed := 0
	for _, p := range c.Points {
		if v >= p {
			passed++
		}
	}
	if c.LowerIsBetter {
		passed = len(c.Points) - passed
	}
	return uint8(min(passed+1, MaxBuckets))
}

// ScoreAll scores every value; see Score.
func (c Cuts) ScoreAll(values []int64) []uint8 {
	out := make([]uint8, len(values))
	for i, v := range values {
		out[i] = c.Score(v)
	}
	return out
}
