package segment

import (
	"math/bits"
	"slices"
)

// Record is one user as the rules see it: raw values and 1..5 scores.
// Money is in integer cents; YAML rule sets write it in currency units.
type Record struct {
	RecencyDays, Frequency, MonetaryCents int64
	R, F, M                               uint8 // 1..5 scores
	TenureDays                            int64
}

// Stats holds the dataset reference values that "high"/"low" conditions
// compare against, over values (days, orders, cents), not scores.
// The federation fills it from global aggregates; locally use ComputeStats.
type Stats struct{ MeanR, MeanF, MeanM, MedianR, MedianF, MedianM float64 }

// ComputeStats returns the means and medians of recency days, frequency and
// monetary cents over recs. The median of an even count is the mean of the
// two middle values. No records give the zero Stats. The medians come from a
// selection in one reused scratch column of 8 bytes per record (expected
// O(n), worst case O(n log n)); skip them with ComputeMeans when no rule
// needs them (see RuleSet.NeedsMedian).
func ComputeStats(recs []Record) Stats {
	st := ComputeMeans(recs)
	if len(recs) == 0 {
		return st
	}
	col := make([]int64, len(recs))
	med := func(get func(Record) int64) float64 {
		for i, r := range recs {
			col[i] = get(r)
		}
		return median(col)
	}
	st.MedianR = med(func(r Record) int64 { return r.RecencyDays })
	st.MedianF = med(func(r Record) int64 { return r.Frequency })
	st.MedianM = med(func(r Record) int64 { return r.MonetaryCents })
	return st
}

// ComputeMeans is ComputeStats without the medians (left zero), in one pass.
func ComputeMeans(recs []Record) Stats {
	if len(recs) == 0 {
		return Stats{}
	}
	// float64 sums: exact up to 2^53 cents in total, and a mean needs no more
	var sr, sf, sm float64
	for _, r := range recs {
		sr += float64(r.RecencyDays)
		sf += float64(r.Frequency)
		sm += float64(r.MonetaryCents)
	}
	n := float64(len(recs))
	return Stats{MeanR: sr / n, MeanF: sf / n, MeanM: sm / n}
}

// median returns the median of a, reordering a.
func median(a []int64) float64 {
	n := len(a)
	hi := float64(selectK(a, n/2))
	if n%2 == 1 {
		return hi
	}
	// selectK leaves a[:n/2] holding the n/2 smallest values
	return (float64(slices.Max(a[:n/2])) + hi) / 2
}

// selectK reorders a so that a[k] is the value a sorted a would hold there,
// everything before it ≤ a[k] and everything after ≥ a[k], and returns a[k].
// It is a quickselect with median-of-three pivots and a three-way partition
// (so runs of equal values, as in order counts, end it early); after
// 2·log2(n) rounds it sorts what is left, bounding the worst case.
func selectK(a []int64, k int) int64 {
	lo, hi := 0, len(a) // a[k] lies in a[lo:hi]
	for rounds := 2 * bits.Len(uint(len(a))); hi-lo > 16 && rounds > 0; rounds-- {
		m := lo + (hi-lo)/2
		p := max(min(a[lo], a[m]), min(max(a[lo], a[m]), a[hi-1]))
		lt, i, gt := lo, lo, hi // a[lo:lt] < p, a[lt:i] == p, a[gt:hi] > p
		for i < gt {
			switch v := a[i]; {
			case v < p:
				a[lt], a[i] = v, a[lt]
				lt++
				i++
			case v > p:
				gt--
				a[i], a[gt] = a[gt], v
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return p
		}
	}
	slices.Sort(a[lo:hi])
	return a[k]
}
