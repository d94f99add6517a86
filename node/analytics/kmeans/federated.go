package kmeans

import (
	"fmt"
	"math"
	"runtime"
)

// Accumulate is a site's half of one Lloyd iteration: it assigns each point
// to its nearest centroid and returns, per cluster, the sum of the assigned
// points (k×dim) and their number, plus the inertia with respect to the
// given centroids. Adding sums and counts over sites and calling Update
// gives the next centroids of Lloyd's algorithm on the pooled points.
//
// Points must be finite (Fit checks; Accumulate trusts its caller for
// speed). No points gives zero sums and counts. Inconsistent dimensions
// (len(points) not a multiple of dim, a centroid of another length, or no
// centroids) give nil, nil, NaN.
func Accumulate(points []float64, dim int, centroids [][]float64) (sums [][]float64, counts []int64, inertia float64) {
	k := len(centroids)
	if dim < 1 || len(points)%dim != 0 || k == 0 || checkCentroids(centroids, dim) != nil {
		return nil, nil, math.NaN()
	}
	e := newEngine(points, dim, k, runtime.GOMAXPROCS(0), false)
	defer e.close()
	for j, c := range centroids {
		copy(e.cent[j*dim:], c)
	}
	inertia, _ = e.assign()
	sums = make([][]float64, k)
	for j := range sums {
		sums[j] = append([]float64(nil), e.sums[j*dim:(j+1)*dim]...)
	}
	return sums, append([]int64(nil), e.counts...), inertia
}

// Update is the aggregator's half of one Lloyd iteration: centroid j becomes
// sums[j]/counts[j], or stays prev[j] when counts[j] is 0 (empty cluster).
// It returns new slices and does not modify its arguments. Mismatched
// lengths give nil.
func Update(sums [][]float64, counts []int64, prev [][]float64) [][]float64 {
	if len(sums) != len(counts) || len(sums) != len(prev) {
		return nil
	}
	out := make([][]float64, len(prev))
	for j, p := range prev {
		if len(sums[j]) != len(p) {
			return nil
		}
		if counts[j] == 0 {
			out[j] = append([]float64(nil), p...)
			continue
		}
		c := float64(counts[j])
		out[j] = make([]float64, len(p))
		for t, s := range sums[j] {
			out[j][t] = s / c
		}
	}
	return out
}

// Shift returns the total squared centroid shift Σ_j ‖next_j − prev_j‖², the
// quantity Fit compares with its tolerance. Mismatched shapes give NaN.
func Shift(prev, next [][]float64) float64 {
	if len(prev) != len(next) {
		return math.NaN()
	}
	s := 0.0
	for j := range prev {
		if len(prev[j]) != len(next[j]) {
			return math.NaN()
		}
		for t := range prev[j] {
			d := next[j][t] - prev[j][t]
			s += d * d
		}
	}
	return s
}

// Assign labels each point with its nearest centroid (ties to the lowest
// index): how a site applies a committed model to its own users.
func Assign(points []float64, dim int, centroids [][]float64) ([]int, error) {
	if _, err := checkPoints(points, dim); err != nil {
		return nil, fmt.Errorf("kmeans assign: %w", err)
	}
	if len(centroids) == 0 {
		return nil, fmt.Errorf("kmeans assign: no centroids: %w", ErrK)
	}
	if err := checkCentroids(centroids, dim); err != nil {
		return nil, fmt.Errorf("kmeans assign: %w", err)
	}
	e := newEngine(points, dim, len(centroids), runtime.GOMAXPROCS(0), true)
	defer e.close()
	for j, c := range centroids {
		copy(e.cent[j*dim:], c)
	}
	for i := range e.labels {
		e.labels[i] = -1
	}
	e.assign()
	return e.labels, nil
}
