package kmeans

import "math"

// Bounds: Fit and FitFrom skip most distance computations with one lower
// bound per point (Hamerly's algorithm), yet return exactly what plain
// Lloyd returns. Each iteration computes the exact squared distance to the
// point's current centroid (it is needed for the inertia anyway); the other
// k-1 distances are skipped when that distance is below, by a margin far
// wider than floating-point rounding, both a lower bound on the distance to
// any other centroid and half the distance from the current centroid to its
// nearest other centroid. Then every other centroid is strictly farther in
// the brute-force comparison too, so labels, sums and inertia are
// bit-identical to the brute-force kernel (tests check this). Otherwise the
// point gets a full scan, which also refreshes its bound.

// boundMargin is the relative safety margin of a skip decision. Rounding in
// the bounds is around 1e-16 relative per operation, accumulated over at
// most a few hundred iterations.
const boundMargin = 1e-9

func (e *engine) initBounds() {
	e.lower = make([]float64, e.n)
	e.shift = make([]float64, e.k)
	e.drop = make([]float64, e.k)
	e.half = make([]float64, e.k)
	e.boundedFn = e.assignBoundedChunk
	for _, v := range e.x {
		e.scale = max(e.scale, math.Abs(v))
	}
}

// updateBounds recomputes, after an update (e.shift is already set), how far
// each cluster's points' lower bounds drop (the largest shift of any other
// centroid) and the half distances between centroids.
func (e *engine) updateBounds() {
	max1, max2, imax := 0.0, 0.0, 0
	for j, s := range e.shift {
		switch {
		case s > max1:
			max1, max2, imax = s, max1, j
		case s > max2:
			max2 = s
		}
	}
	for j := range e.drop {
		e.drop[j] = max1
	}
	e.drop[imax] = max2
	e.updateHalf()
}

func (e *engine) updateHalf() {
	dim := e.dim
	for a := range e.k {
		m := math.Inf(1)
		for j := range e.k {
			if j != a {
				m = min(m, sqdist(e.cent[a*dim:(a+1)*dim], e.cent[j*dim:(j+1)*dim]))
			}
		}
		e.half[a] = 0.5 * math.Sqrt(m)
	}
}

// assignBoundedChunk is assignChunk with bounds; see the comment above.
func (e *engine) assignBoundedChunk(c int) {
	lo, hi := e.chunkRange(c)
	k, dim := e.k, e.dim
	sums := e.psum[c*k*dim : (c+1)*k*dim]
	cnt := e.pcnt[c*k : (c+1)*k]
	clear(sums)
	clear(cnt)
	ready := e.boundsReady
	slack := boundMargin * (1 + e.scale)
	var inertia float64
	var changed int
	for i := lo; i < hi; i++ {
		p := e.x[i*dim : (i+1)*dim]
		best, bd := -1, 0.0
		if ready {
			a := e.labels[i]
			var da float64
			if dim == 3 {
				da = sqdist3((*[3]float64)(p), (*[3]float64)(e.cent[a*3:]))
			} else {
				da = sqdistN(p, e.cent[a*dim:(a+1)*dim])
			}
			l := e.lower[i] - e.drop[a]
			e.lower[i] = l
			// Skip if sqrt(da) < b, with b the larger bound shrunk by the
			// margin; compared squared to keep the square root off the
			// common path. (Builtin max is branch-free.)
			if b := max(l, e.half[a])*(1-3*boundMargin) - slack; b > 0 && da < b*b {
				best, bd = a, da
			}
		}
		if best < 0 {
			second := math.Inf(1)
			bd = math.Inf(1)
			for j := range k {
				var d float64
				if dim == 3 {
					d = sqdist3((*[3]float64)(p), (*[3]float64)(e.cent[j*3:]))
				} else {
					d = sqdistN(p, e.cent[j*dim:(j+1)*dim])
				}
				if d < bd {
					best, bd, second = j, d, bd
				} else if d < second {
					second = d
				}
			}
			e.lower[i] = math.Sqrt(second)
		}
		if e.labels[i] != best {
			e.labels[i] = best
			changed++
		}
		inertia += bd
		s := sums[best*dim : (best+1)*dim]
		for t, v := range p {
			s[t] += v
		}
		cnt[best]++
	}
	e.pinertia[c] = inertia
	e.pchanged[c] = changed
}

// sqdist is the squared Euclidean distance. Every kernel computes distances
// with sqdist3 for dim 3 and sqdistN otherwise (hot loops inline that
// dispatch themselves), so that all paths agree bit for bit.
func sqdist(p, c []float64) float64 {
	if len(p) == 3 {
		return sqdist3((*[3]float64)(p), (*[3]float64)(c))
	}
	return sqdistN(p, c)
}

func sqdist3(p, c *[3]float64) float64 {
	d0, d1, d2 := p[0]-c[0], p[1]-c[1], p[2]-c[2]
	return d0*d0 + d1*d1 + d2*d2
}

func sqdistN(p, c []float64) float64 {
	d := 0.0
	for t, v := range p {
		diff := v - c[t]
		d += diff * diff
	}
	return d
}
