package jobs

import (
	"math"
	"sort"
)

// Bins are public, fixed histogram bin edges: bin i holds the values v with
// Edges[i] ≤ v < Edges[i+1]; values are clamped into [Edges[0],
// Edges[last]−1] first. The first bins are one integer wide ("exact"), the
// rest grow geometrically.
type Bins struct {
	Edges []int64
}

// newBins builds edges lo, lo+1, ..., exact, then e ← max(e+1, ⌈e·growth⌉)
// until e > max, and a last edge max+1.
func newBins(lo, exact int64, growth float64, maxV int64) Bins {
	var e []int64
	for v := lo; v <= exact; v++ {
		e = append(e, v)
	}
	v := exact
	for {
		nv := max(v+1, int64(math.Ceil(float64(v)*growth)))
		if nv > maxV {
			break
		}
		e = append(e, nv)
		v = nv
	}
	return Bins{Edges: append(e, maxV+1)}
}

// The public bins of the R/F/M histograms (format version 1 of statistic
// rfm.hist). Exact bins cover recency 0..730 days, frequency 0..64 orders and
// monetary 0..100 cents; beyond, bins grow by 1%, 2% and 0.5% per bin.
// Values beyond the last edge are counted in the last bin.
var (
	RecencyBins   = newBins(0, 730, 1.01, 100_000)
	FrequencyBins = newBins(0, 64, 1.02, 10_000_000)
	MonetaryBins  = newBins(0, 100, 1.005, 100_000_000_000)
)

// Len is the number of bins.
func (b Bins) Len() int { return len(b.Edges) - 1 }

// Index returns v's bin (clamped into range).
func (b Bins) Index(v int64) int {
	e := b.Edges
	if v < e[0] {
		return 0
	}
	if v >= e[len(e)-1] {
		return len(e) - 2
	}
	if v < e[0]+int64(len(e)) && e[v-e[0]] == v {
		// Exact region: edge i is e[0]+i.
		if int(v-e[0]) < len(e)-1 && e[v-e[0]+1] == v+1 {
			return int(v - e[0])
		}
	}
	return sort.Search(len(e), func(i int) bool { return e[i] > v }) - 1
}

// Exact reports whether bin i holds one integer value.
func (b Bins) Exact(i int) bool { return b.Edges[i+1]-b.Edges[i] == 1 }

// Histogram counts values into the bins (the pooled baseline; sites do the
// same in Local).
func (b Bins) Histogram(vals []int64) []int64 {
	h := make([]int64, b.Len())
	for _, v := range vals {
		h[b.Index(v)]++
	}
	return h
}

// Quantile returns the value at 0-based rank k of a histogram: exact in a
// one-value bin, linearly interpolated inside a wider bin (the k-th of c
// values in [lo, hi) sits at lo + (k+½)/c·(hi−lo)).
func (b Bins) Quantile(counts []float64, k float64) float64 {
	cum := 0.0
	for i, c := range counts {
		if c <= 0 {
			continue
		}
		if k < cum+c {
			lo, hi := float64(b.Edges[i]), float64(b.Edges[i+1])
			if b.Exact(i) {
				return lo
			}
			return lo + (k-cum+0.5)/c*(hi-lo)
		}
		cum += c
	}
	// Beyond the total (noise): the last non-empty bin's lower edge.
	for i := len(counts) - 1; i >= 0; i-- {
		if counts[i] > 0 {
			return float64(b.Edges[i])
		}
	}
	return float64(b.Edges[0])
}

// Median returns the median of a histogram as segment.ComputeStats defines
// it (the mean of the two middle values for an even count), exact when the
// middle values fall in one-value bins.
func (b Bins) Median(counts []float64) float64 {
	n := 0.0
	for _, c := range counts {
		n += max(c, 0)
	}
	if n < 1 {
		return 0
	}
	n = math.Round(n)
	k1, k2 := math.Floor((n-1)/2), math.Floor(n/2)
	return (b.Quantile(counts, k1) + b.Quantile(counts, k2)) / 2
}
