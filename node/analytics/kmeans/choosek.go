package kmeans

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultSilhouetteSample is the sample size Scan uses for the silhouette.
const DefaultSilhouetteSample = 10000

// Silhouette returns the mean silhouette coefficient of a labelling, with
// Euclidean distances, as scikit-learn's silhouette_score: for point i with
// a = mean distance to the other points of its cluster and b = the smallest
// mean distance to the points of another cluster, s_i = (b − a)/max(a, b),
// and s_i = 0 for a point alone in its cluster.
//
// If 0 < sample < n, it is computed on a uniform sample of that many points
// without replacement (distances within the sample only, as scikit-learn's
// sample_size), drawn deterministically from seed; otherwise on all points,
// which costs O(n²). It returns 0 when fewer than two clusters occur in the
// (sampled) points, and NaN when the inputs are inconsistent (bad dim,
// len(labels) != n, a label outside [0, k)).
func Silhouette(points []float64, dim int, labels []int, k int, sample int, seed uint64) float64 {
	if dim < 1 || len(points)%dim != 0 || k < 1 {
		return math.NaN()
	}
	n := len(points) / dim
	if len(labels) != n {
		return math.NaN()
	}
	for _, l := range labels {
		if l < 0 || l >= k {
			return math.NaN()
		}
	}
	x, lab := points, labels
	if sample > 0 && sample < n {
		idx := sampleIndices(n, sample, seed)
		x = make([]float64, 0, sample*dim)
		lab = make([]int, 0, sample)
		for _, i := range idx {
			x = append(x, points[i*dim:(i+1)*dim]...)
			lab = append(lab, labels[i])
		}
	}
	return silhouette(x, dim, lab, k)
}

// sampleIndices draws m distinct indices of [0, n) (Floyd's algorithm) and
// returns them sorted.
func sampleIndices(n, m int, seed uint64) []int {
	rng := newRand(seed)
	set := make(map[int]struct{}, m)
	out := make([]int, 0, m)
	for j := n - m; j < n; j++ {
		t := rng.IntN(j + 1)
		if _, ok := set[t]; ok {
			t = j
		}
		set[t] = struct{}{}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func silhouette(x []float64, dim int, labels []int, k int) float64 {
	m := len(labels)
	cnt := make([]int, k)
	for _, l := range labels {
		cnt[l]++
	}
	occupied := 0
	for _, c := range cnt {
		if c > 0 {
			occupied++
		}
	}
	if occupied < 2 {
		return 0
	}
	s := make([]float64, m)
	const block = 64
	var next atomic.Int64
	work := func() {
		dsum := make([]float64, k)
		for {
			lo := int(next.Add(block)) - block
			if lo >= m {
				return
			}
			for i := lo; i < min(lo+block, m); i++ {
				clear(dsum)
				p := x[i*dim : (i+1)*dim]
				for j := range m {
					q := x[j*dim : (j+1)*dim]
					d := 0.0
					for t, v := range p {
						diff := v - q[t]
						d += diff * diff
					}
					dsum[labels[j]] += math.Sqrt(d)
				}
				own := labels[i]
				if cnt[own] == 1 {
					continue // s[i] = 0
				}
				a := dsum[own] / float64(cnt[own]-1)
				b := math.Inf(1)
				for l, c := range cnt {
					if l != own && c > 0 {
						b = min(b, dsum[l]/float64(c))
					}
				}
				if den := max(a, b); den > 0 {
					s[i] = (b - a) / den
				}
			}
		}
	}
	workers := 1
	if m >= 1024 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	total := 0.0
	for _, v := range s {
		total += v
	}
	return total / float64(m)
}

// KScore is the quality of the best fit found for one k.
type KScore struct {
	K          int
	Inertia    float64
	Silhouette float64 // on a sample of DefaultSilhouetteSample points
	Iterations int
}

// Scan fits k-means for each k in ks (with opt, K overridden) and reports
// inertia and silhouette per k, to help choose k. The silhouette sample is
// drawn with opt.Seed.
func Scan(points []float64, dim int, ks []int, opt Options) ([]KScore, error) {
	out := make([]KScore, 0, len(ks))
	for _, k := range ks {
		if k < 1 {
			return nil, fmt.Errorf("kmeans scan: k=%d: %w", k, ErrK)
		}
		o := opt
		o.K = k
		m, labels, err := Fit(points, dim, o)
		if err != nil {
			return nil, fmt.Errorf("kmeans scan, k=%d: %w", k, err)
		}
		out = append(out, KScore{
			K:          k,
			Inertia:    m.Inertia,
			Silhouette: Silhouette(points, dim, labels, k, DefaultSilhouetteSample, opt.Seed),
			Iterations: m.Iterations,
		})
	}
	return out, nil
}

// Elbow picks k at the "elbow" of the inertia curve: after sorting by K and
// scaling K and inertia to [0, 1], the point farthest below the straight
// line from the first to the last point (the Kneedle rule). With fewer than
// three scores it returns the smallest K (0 for none).
func Elbow(scores []KScore) int {
	if len(scores) == 0 {
		return 0
	}
	s := slices.Clone(scores)
	slices.SortFunc(s, func(a, b KScore) int { return a.K - b.K })
	if len(s) < 3 {
		return s[0].K
	}
	first, last := s[0], s[len(s)-1]
	dk := float64(last.K - first.K)
	di := first.Inertia - last.Inertia
	if dk == 0 || di <= 0 {
		return first.K
	}
	best, bestGap := first.K, 0.0
	for _, p := range s[1 : len(s)-1] {
		xk := float64(p.K-first.K) / dk
		yi := (first.Inertia - p.Inertia) / di // 0 at first, 1 at last
		if gap := yi - xk; gap > bestGap {
			best, bestGap = p.K, gap
		}
	}
	return best
}
