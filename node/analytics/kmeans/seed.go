package kmeans

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// newRand returns the PCG generator for a seed. The second PCG word is a
// SplitMix64 scramble of the seed so that neighbouring seeds (restarts use
// Seed+r) start far apart.
func newRand(seed uint64) *rand.Rand {
	z := seed + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return rand.New(rand.NewPCG(seed, z))
}

// localTrials is the number of candidates per k-means++ step, as in
// scikit-learn: 2 + ⌊ln k⌋.
func localTrials(k int) int {
	return 2 + int(math.Log(float64(k)))
}

// InitPlusPlus returns k initial centroids chosen by greedy k-means++ (see
// the package doc) with the given seed: the same centroids Fit starts its
// first restart from with Options.Seed = seed. Useful to start FitFrom or a
// federated run from a known point.
func InitPlusPlus(points []float64, dim, k int, seed uint64) ([][]float64, error) {
	n, err := checkPoints(points, dim)
	if err != nil {
		return nil, fmt.Errorf("kmeans++: %w", err)
	}
	if err := checkK(k, n); err != nil {
		return nil, fmt.Errorf("kmeans++: %w", err)
	}
	e := newEngine(points, dim, k, 0, false)
	defer e.close()
	e.seedPlusPlus(newRand(seed))
	out := make([][]float64, k)
	for j := range out {
		out[j] = append([]float64(nil), e.cent[j*dim:(j+1)*dim]...)
	}
	return out, nil
}

// seedPlusPlus fills e.cent with greedy k-means++ centres drawn from rng.
func (e *engine) seedPlusPlus(rng *rand.Rand) {
	n, dim, k := e.n, e.dim, e.k
	trials := localTrials(k)
	if e.closest == nil {
		// Seeding and the Lloyd bounds never run at the same time: share
		// the n-float buffer when there is one.
		e.closest = e.lower
		if e.closest == nil {
			e.closest = make([]float64, n)
		}
		e.cand = make([]float64, trials*dim)
		e.ppot = make([]float64, e.nchunks*trials)
		e.candidates = make([]int, trials)
		e.draws = make([]float64, trials)
		e.order = make([]int, trials)
	}
	potFn, closestFn := e.potChunk, e.closestChunk

	// First centre: uniform. Its potential pass doubles as closest's init.
	first := rng.IntN(n)
	copy(e.cent[:dim], e.x[first*dim:(first+1)*dim])
	copy(e.cand[:dim], e.cent[:dim])
	for i := range e.closest {
		e.closest[i] = math.Inf(1)
	}
	e.chosen = 0
	e.run(closestFn)
	pot := 0.0
	for c := range e.nchunks {
		pot += e.pinertia[c]
	}

	for j := 1; j < k; j++ {
		// Draw the candidates: first index whose running sum of squared
		// distances reaches u*pot (numpy's searchsorted side="left").
		for t := range trials {
			e.draws[t] = rng.Float64() * pot
			e.order[t] = t
		}
		for a := 1; a < trials; a++ { // insertion sort of order by draw
			for b := a; b > 0 && e.draws[e.order[b]] < e.draws[e.order[b-1]]; b-- {
				e.order[b], e.order[b-1] = e.order[b-1], e.order[b]
			}
		}
		s, cum := 0, 0.0
		for i := 0; i < n && s < trials; i++ {
			cum += e.closest[i]
			for s < trials && cum >= e.draws[e.order[s]] {
				e.candidates[e.order[s]] = i
				s++
			}
		}
		if s < trials { // rounding: the serial sum fell short of pot
			last := n - 1
			for last > 0 && e.closest[last] == 0 {
				last--
			}
			for ; s < trials; s++ {
				e.candidates[e.order[s]] = last
			}
		}
		for t, id := range e.candidates {
			copy(e.cand[t*dim:(t+1)*dim], e.x[id*dim:(id+1)*dim])
		}

		// Potential of each candidate; keep the best (first on ties).
		e.run(potFn)
		bestT, bestPot := 0, math.Inf(1)
		for t := range trials {
			p := 0.0
			for c := range e.nchunks {
				p += e.ppot[c*trials+t]
			}
			if p < bestPot {
				bestT, bestPot = t, p
			}
		}
		copy(e.cent[j*dim:(j+1)*dim], e.cand[bestT*dim:(bestT+1)*dim])
		pot = bestPot
		if j+1 < k {
			e.chosen = bestT
			e.run(closestFn)
		}
	}
}

// potChunk computes, per candidate, the chunk's sum of min(closest, d²).
func (e *engine) potChunk(c int) {
	lo, hi := e.chunkRange(c)
	dim := e.dim
	trials := len(e.candidates)
	pp := e.ppot[c*trials : (c+1)*trials]
	clear(pp)
	for i := lo; i < hi; i++ {
		p := e.x[i*dim : (i+1)*dim]
		cl := e.closest[i]
		for t := range trials {
			q := e.cand[t*dim : (t+1)*dim]
			d := 0.0
			for u, v := range p {
				diff := v - q[u]
				d += diff * diff
			}
			pp[t] += min(cl, d)
		}
	}
}

// closestChunk lowers closest to the squared distance to candidate e.chosen
// and records the chunk's potential in pinertia.
func (e *engine) closestChunk(c int) {
	lo, hi := e.chunkRange(c)
	dim := e.dim
	q := e.cand[e.chosen*dim : (e.chosen+1)*dim]
	pot := 0.0
	for i := lo; i < hi; i++ {
		p := e.x[i*dim : (i+1)*dim]
		d := 0.0
		for u, v := range p {
			diff := v - q[u]
			d += diff * diff
		}
		m := min(e.closest[i], d)
		e.closest[i] = m
		pot += m
	}
	e.pinertia[c] = pot
}
