package score

import "fmt"

// QuantileCuts derives buckets−1 cut points for Cuts from a histogram, for
// when only a global histogram is known (the federation merges per-site
// histograms; no site sees every value).
//
// The histogram has len(edges) == len(counts)+1: bin i counts the values v
// with edges[i] ≤ v < edges[i+1]. Edges must be strictly ascending and counts
// non-negative with a positive total N. For integer data with one bin per
// distinct value, edges are the values followed by the last value + 1.
//
// NTile(…, buckets) puts P_j = j·floor(N/buckets) + min(j, N mod buckets)
// values in scores 1..j. Cut j (j = 1..buckets−1) is the edge e whose count of
// values below it, below(e), is nearest P_j (the lower edge on a tie), so
// Cuts{Points: cuts}.Score(v) gives score j+1 or more exactly to values ≥ cut j.
// The returned points are non-decreasing; equal points mean an empty score.
//
// Relation to NTile (higher is better, desc=false): if every bin holds one
// distinct value and no run of equal values straddles an ntile boundary, the
// threshold scores equal NTile's for every value. Otherwise they differ only
// at the boundaries: a threshold gives equal values equal scores and must
// put a straddling run wholly on one side, while NTile splits it by user id;
// at boundary j the number of values scored differently is |below(cut j) − P_j|,
// the least any edge of the histogram allows. Coarser bins can only move cuts
// to bin edges.
//
// For recency use the same cuts with LowerIsBetter: Cuts then gives the
// most recent values the highest score, as NTile(…, desc=true) does; because
// ntile gives its larger buckets to the first scores of its own order, the
// boundaries sit up to one value apart from NTile's desc boundaries (plus the
// tie effect above).
//
// Example: frequencies 1,1,1,1,2,2,3,5,8,13 as one bin per value (edges
// 1,2,3,5,8,13,14; counts 4,2,1,1,1,1) with 5 buckets: P = 2,4,6,8; the
// edges have below = 0,4,6,7,8,9,10, so the cuts are 1 (0 and 4 are equally
// near 2: the lower edge wins), 2, 3 and 8.
func QuantileCuts(edges []int64, counts []int64, buckets int) ([]int64, error) {
	if buckets < 1 || buckets > MaxBuckets {
		return nil, fmt.Errorf("quantile cuts: %d buckets: %w", buckets, ErrBuckets)
	}
	if len(counts) == 0 || len(edges) != len(counts)+1 {
		return nil, fmt.Errorf("quantile cuts: %d edges for %d counts, want counts+1: %w",
			len(edges), len(counts), ErrHistogram)
	}
	// below[i] = number of values < edges[i]
	below := make([]int64, len(edges))
	for i, c := range counts {
		if edges[i+1] <= edges[i] {
			return nil, fmt.Errorf("quantile cuts: edge %d (%d) not above edge %d (%d): %w",
				i+1, edges[i+1], i, edges[i], ErrHistogram)
		}
		if c < 0 {
			return nil, fmt.Errorf("quantile cuts: count %d is %d: %w", i, c, ErrHistogram)
		}
		below[i+1] = below[i] + c
		if below[i+1] < below[i] {
			return nil, fmt.Errorf("quantile cuts: total count overflows: %w", ErrHistogram)
		}
	}
	n := below[len(below)-1]
	if n == 0 {
		return nil, fmt.Errorf("quantile cuts: no values: %w", ErrHistogram)
	}
	q, r := n/int64(buckets), n%int64(buckets)
	cuts := make([]int64, 0, buckets-1)
	e := 0 // edges are scanned once: P_j grows with j
	for j := int64(1); j < int64(buckets); j++ {
		p := j*q + min(j, r)
		// advance to the last edge with below <= p
		for e+1 < len(below) && below[e+1] <= p {
			e++
		}
		best := e
		if e+1 < len(below) && below[e+1]-p < p-below[e] {
			best = e + 1
		}
		cuts = append(cuts, edges[best])
	}
	return cuts, nil
}
