package kmeans

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// blobs returns perCluster points around each centre (Gaussian, std spread)
// and the true labels.
func blobs(seed uint64, centres [][]float64, perCluster int, spread float64) ([]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	dim := len(centres[0])
	x := make([]float64, 0, len(centres)*perCluster*dim)
	var labels []int
	for range perCluster {
		for j, c := range centres {
			for t := range dim {
				x = append(x, c[t]+spread*rng.NormFloat64())
			}
			labels = append(labels, j)
		}
	}
	return x, labels
}

// syntheticRFM returns n standardized log1p(R,F,M) rows shaped like the
// peers' generated data (heavy-tailed frequency and spend, churned users).
func syntheticRFM(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	r := make([]int64, n)
	f := make([]int64, n)
	m := make([]int64, n)
	for i := range n {
		rate := rng.ExpFloat64() * rng.ExpFloat64()
		f[i] = 1 + int64(rate*4)
		if rng.Float64() < 0.4 {
			r[i] = 180 + int64(rng.Float64()*550)
		} else {
			r[i] = 1 + int64(rng.ExpFloat64()*60)
		}
		mu := 3.0 + 0.6*rng.NormFloat64()
		m[i] = int64(float64(f[i]) * 160 * math.Exp(mu+0.9*rng.NormFloat64()))
	}
	x := Log1pRFM(r, f, m)
	Standardize(x, 3)
	return x
}

// samePartition reports whether two labellings group points identically.
func samePartition(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	ab := map[int]int{}
	ba := map[int]int{}
	for i := range a {
		if v, ok := ab[a[i]]; ok && v != b[i] {
			return false
		}
		if v, ok := ba[b[i]]; ok && v != a[i] {
			return false
		}
		ab[a[i]], ba[b[i]] = b[i], a[i]
	}
	return true
}

func TestFitRecoversSeparatedBlobs(t *testing.T) {
	cases := []struct {
		name    string
		centres [][]float64
	}{
		{"dim2", [][]float64{{0, 0}, {10, 0}, {0, 10}, {10, 10}}},
		{"dim3", [][]float64{{0, 0, 0}, {8, 0, 0}, {0, 8, 0}, {0, 0, 8}, {8, 8, 8}}},
		{"dim5", [][]float64{{0, 0, 0, 0, 0}, {9, 0, 0, 0, 9}, {0, 9, 9, 0, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dim, k := len(tc.centres[0]), len(tc.centres)
			x, truth := blobs(7, tc.centres, 2000, 0.5)
			for seed := uint64(0); seed < 5; seed++ {
				m, labels, err := Fit(x, dim, Options{K: k, Seed: seed})
				if err != nil {
					t.Fatalf("Fit: %v", err)
				}
				if !samePartition(labels, truth) {
					t.Fatalf("seed %d: labels do not match the blobs", seed)
				}
				for j, c := range m.Centroids {
					want := tc.centres[truth[slices.Index(labels, j)]]
					for u := range c {
						if math.Abs(c[u]-want[u]) > 0.05 {
							t.Errorf("seed %d: centroid %d = %v, want near %v", seed, j, c, want)
						}
					}
					if m.Sizes[j] != 2000 {
						t.Errorf("seed %d: size %d = %d, want 2000", seed, j, m.Sizes[j])
					}
				}
				if !m.Converged {
					t.Errorf("seed %d: not converged after %d iterations", seed, m.Iterations)
				}
			}
		})
	}
}

func TestFitDeterministicAcrossRunsAndWorkers(t *testing.T) {
	x := syntheticRFM(minParallelPoints+123, 1)
	ref, refLabels, err := Fit(x, 3, Options{K: 6, Seed: 9, Restarts: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{2, 3} {
		m, labels, err := Fit(x, 3, Options{K: 6, Seed: 9, Restarts: 2, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if m.Inertia != ref.Inertia || m.Iterations != ref.Iterations || !slices.Equal(labels, refLabels) {
			t.Fatalf("workers %d: inertia %v iterations %d, want %v %d (bit-identical)", w, m.Inertia, m.Iterations, ref.Inertia, ref.Iterations)
		}
		for j := range m.Centroids {
			if !slices.Equal(m.Centroids[j], ref.Centroids[j]) {
				t.Fatalf("workers %d: centroid %d = %v, want %v", w, j, m.Centroids[j], ref.Centroids[j])
			}
		}
	}
	a, errA := InitPlusPlus(x, 3, 6, 9)
	b, errB := InitPlusPlus(x, 3, 6, 10)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if slices.Equal(a[0], b[0]) && slices.Equal(a[1], b[1]) {
		t.Errorf("seeds 9 and 10 gave the same initial centres: seed not used")
	}
}

func TestInitPlusPlusIsFitsStart(t *testing.T) {
	x := syntheticRFM(5000, 3)
	init, err := InitPlusPlus(x, 3, 8, 77)
	if err != nil {
		t.Fatal(err)
	}
	// Every initial centre is a data point, and all are distinct.
	for j, c := range init {
		found := false
		for i := 0; i < len(x); i += 3 {
			if slices.Equal(x[i:i+3], c) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("centre %d = %v is not a data point", j, c)
		}
		for _, d := range init[:j] {
			if slices.Equal(c, d) {
				t.Errorf("centre %d repeated", j)
			}
		}
	}
	a, la, err := FitFrom(x, 3, init, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, lb, err := Fit(x, 3, Options{K: 8, Seed: 77})
	if err != nil {
		t.Fatal(err)
	}
	if a.Inertia != b.Inertia || !slices.Equal(la, lb) {
		t.Errorf("FitFrom(InitPlusPlus(seed)) inertia %v, Fit(seed) %v: want identical", a.Inertia, b.Inertia)
	}
}

func TestInertiaNeverIncreases(t *testing.T) {
	x := syntheticRFM(20000, 4)
	for seed := uint64(0); seed < 3; seed++ {
		e := newEngine(x, 3, 10, 2, true)
		e.seedPlusPlus(newRand(seed))
		var trace []float64
		res, err := e.lloyd(context.Background(), 300, 0, func(_ int, in float64) { trace = append(trace, in) })
		e.close()
		if err != nil {
			t.Fatal(err)
		}
		if len(trace) < 5 {
			t.Fatalf("seed %d: only %d iterations; data too easy for this test", seed, len(trace))
		}
		for i := 1; i < len(trace); i++ {
			if trace[i] > trace[i-1]*(1+1e-12) {
				t.Errorf("seed %d: inertia rose at iteration %d: %v -> %v", seed, i, trace[i-1], trace[i])
			}
		}
		if res.inertia > trace[len(trace)-1]*(1+1e-12) {
			t.Errorf("seed %d: final inertia %v above last iteration's %v", seed, res.inertia, trace[len(trace)-1])
		}
		if trace[0] <= res.inertia {
			t.Errorf("seed %d: Lloyd did not improve on the seeding: %v -> %v", seed, trace[0], res.inertia)
		}
	}
}

func TestRestartsPickLowestInertia(t *testing.T) {
	x := syntheticRFM(4000, 5)
	const seed, restarts = 100, 6
	var inertias []float64
	for r := range restarts {
		m, _, err := Fit(x, 3, Options{K: 12, Seed: seed + uint64(r)})
		if err != nil {
			t.Fatal(err)
		}
		inertias = append(inertias, m.Inertia)
	}
	if slices.Min(inertias) == slices.Max(inertias) {
		t.Fatalf("all restarts reached inertia %v; the test cannot tell them apart", inertias[0])
	}
	m, labels, err := Fit(x, 3, Options{K: 12, Seed: seed, Restarts: restarts})
	if err != nil {
		t.Fatal(err)
	}
	if m.Inertia != slices.Min(inertias) {
		t.Errorf("Restarts=%d inertia %v, want the lowest single run %v (of %v)", restarts, m.Inertia, slices.Min(inertias), inertias)
	}
	// Labels, sizes and inertia belong to the winning run.
	sizes := make([]int, 12)
	sum := 0.0
	for i, l := range labels {
		sizes[l]++
		c := m.Centroids[l]
		for u := range 3 {
			d := x[3*i+u] - c[u]
			sum += d * d
		}
	}
	if !slices.Equal(sizes, m.Sizes) {
		t.Errorf("sizes %v, want %v counted from labels", m.Sizes, sizes)
	}
	if math.Abs(sum-m.Inertia) > 1e-9*sum {
		t.Errorf("inertia %v, want %v recomputed from labels", m.Inertia, sum)
	}
}

// TestFederatedLloydEqualsFit checks that Accumulate over sites + Update is
// Lloyd's iteration: after every number of iterations the federated
// centroids equal FitFrom's from the same start, for three random splits.
func TestFederatedLloydEqualsFit(t *testing.T) {
	const dim, k, iters = 3, 8, 10
	x := syntheticRFM(minParallelPoints+777, 6)
	n := len(x) / dim
	init, err := InitPlusPlus(x, dim, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Centralised reference: FitFrom stopped after it iterations.
	want := make([][][]float64, iters+1)
	for it := 1; it <= iters; it++ {
		m, _, err := FitFrom(x, dim, init, Options{MaxIter: it, Tol: -1})
		if err != nil {
			t.Fatal(err)
		}
		want[it] = m.Centroids
	}
	rng := rand.New(rand.NewPCG(6, 6))
	for split := range 3 {
		// Each point goes to one of 3 sites, with uneven shares.
		sites := make([][]float64, 3)
		for i := range n {
			s := 0
			switch u := rng.Float64(); {
			case u < 0.1:
				s = 0
			case u < 0.45:
				s = 1
			default:
				s = 2
			}
			sites[s] = append(sites[s], x[i*dim:(i+1)*dim]...)
		}
		cent := init
		for it := 1; it <= iters; it++ {
			sums := make([][]float64, k)
			for j := range sums {
				sums[j] = make([]float64, dim)
			}
			counts := make([]int64, k)
			for _, site := range sites {
				s, c, _ := Accumulate(site, dim, cent)
				for j := range k {
					counts[j] += c[j]
					for u := range dim {
						sums[j][u] += s[j][u]
					}
				}
			}
			cent = Update(sums, counts, cent)
			for j := range k {
				for u := range dim {
					if d := math.Abs(cent[j][u] - want[it][j][u]); d > 1e-9 {
						t.Fatalf("split %d iteration %d: centroid %d differs by %g", split, it, j, d)
					}
				}
			}
		}
	}
}

func TestAccumulateUpdateAssign(t *testing.T) {
	x := []float64{0, 0, 1, 0, 10, 10, 11, 10}
	cent := [][]float64{{0, 0}, {10, 10}, {100, 100}}
	sums, counts, inertia := Accumulate(x, 2, cent)
	if !slices.Equal(counts, []int64{2, 2, 0}) {
		t.Errorf("counts = %v, want [2 2 0]", counts)
	}
	if !slices.Equal(sums[0], []float64{1, 0}) || !slices.Equal(sums[1], []float64{21, 20}) {
		t.Errorf("sums = %v", sums)
	}
	if inertia != 2 {
		t.Errorf("inertia = %v, want 2", inertia)
	}
	next := Update(sums, counts, cent)
	want := [][]float64{{0.5, 0}, {10.5, 10}, {100, 100}}
	for j := range want {
		if !slices.Equal(next[j], want[j]) {
			t.Errorf("Update centroid %d = %v, want %v", j, next[j], want[j])
		}
	}
	if cent[0][0] != 0 {
		t.Errorf("Update modified prev")
	}
	if got := Shift(cent, next); got != 0.5 {
		t.Errorf("Shift = %v, want 0.5", got)
	}
	labels, err := Assign(x, 2, next)
	if err != nil || !slices.Equal(labels, []int{0, 0, 1, 1}) {
		t.Errorf("Assign = %v, %v; want [0 0 1 1]", labels, err)
	}

	// A site without points contributes zeros.
	s0, c0, in0 := Accumulate(nil, 2, cent)
	if len(s0) != 3 || !slices.Equal(c0, []int64{0, 0, 0}) || in0 != 0 {
		t.Errorf("Accumulate(no points) = %v %v %v", s0, c0, in0)
	}
	// Inconsistent shapes.
	if s, c, in := Accumulate(x, 3, cent); s != nil || c != nil || !math.IsNaN(in) {
		t.Errorf("Accumulate(bad dim) = %v %v %v, want nil nil NaN", s, c, in)
	}
	if Update(sums, counts[:2], cent) != nil {
		t.Errorf("Update(mismatched) != nil")
	}
	if _, err := Assign(x, 2, [][]float64{{1}}); !errors.Is(err, ErrDim) {
		t.Errorf("Assign(bad centroid) err = %v, want ErrDim", err)
	}
}

func TestFitErrors(t *testing.T) {
	x := []float64{0, 0, 1, 1, 2, 2}
	cases := []struct {
		name   string
		points []float64
		dim    int
		opt    Options
		want   error
	}{
		{"k negative", x, 2, Options{K: -1}, ErrK},
		{"k above n", x, 2, Options{K: 4}, ErrK},
		{"default k above n", x, 2, Options{}, ErrK},
		{"dim zero", x, 0, Options{K: 1}, ErrDim},
		{"dim mismatch", x, 4, Options{K: 1}, ErrDim},
		{"no points", nil, 2, Options{K: 1}, ErrK},
		{"NaN", []float64{0, math.NaN(), 1, 1}, 2, Options{K: 1}, ErrNotFinite},
		{"Inf", []float64{0, 0, math.Inf(-1), 1}, 2, Options{K: 1}, ErrNotFinite},
		{"negative restarts", x, 2, Options{K: 1, Restarts: -1}, ErrOptions},
		{"negative max iter", x, 2, Options{K: 1, MaxIter: -2}, ErrOptions},
		{"NaN tol", x, 2, Options{K: 1, Tol: math.NaN()}, ErrOptions},
	}
	for _, tc := range cases {
		if _, _, err := Fit(tc.points, tc.dim, tc.opt); !errors.Is(err, tc.want) {
			t.Errorf("%s: Fit err = %v, want %v", tc.name, err, tc.want)
		}
	}
	init := [][]float64{{0, 0}, {1, 1}}
	if _, _, err := FitFrom(x, 2, init, Options{K: 3}); !errors.Is(err, ErrK) {
		t.Errorf("FitFrom(K mismatch) err = %v, want ErrK", err)
	}
	if _, _, err := FitFrom(x, 2, [][]float64{{0, 0}, {1}}, Options{}); !errors.Is(err, ErrDim) {
		t.Errorf("FitFrom(short centroid) err = %v, want ErrDim", err)
	}
	if _, _, err := FitFrom(x, 2, [][]float64{{0, math.NaN()}}, Options{}); !errors.Is(err, ErrNotFinite) {
		t.Errorf("FitFrom(NaN centroid) err = %v, want ErrNotFinite", err)
	}
	if _, err := InitPlusPlus(x, 2, 0, 1); !errors.Is(err, ErrK) {
		t.Errorf("InitPlusPlus(k=0) err = %v, want ErrK", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := FitContext(ctx, x, 2, Options{K: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("FitContext(cancelled) err = %v, want context.Canceled", err)
	}
}

func TestFitDegenerateData(t *testing.T) {
	// All points equal, k above the number of distinct points: no panic,
	// zero inertia, every point labelled.
	x := make([]float64, 2*50)
	for i := range x {
		x[i] = 3
	}
	m, labels, err := Fit(x, 2, Options{K: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Inertia != 0 || len(labels) != 50 {
		t.Errorf("inertia %v, %d labels; want 0, 50", m.Inertia, len(labels))
	}
	total := 0
	for _, s := range m.Sizes {
		total += s
	}
	if total != 50 {
		t.Errorf("sizes %v add to %d, want 50", m.Sizes, total)
	}
	// k = n: every point its own cluster.
	y := []float64{0, 5, 9, 20}
	m, labels, err = Fit(y, 1, Options{K: 4, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.Inertia != 0 || !samePartition(labels, []int{0, 1, 2, 3}) {
		t.Errorf("k=n: inertia %v labels %v, want 0 and all distinct", m.Inertia, labels)
	}
}

// TestBoundsMatchBruteForce checks that the bounded kernel Fit uses returns
// bit-for-bit what plain Lloyd returns, iteration by iteration.
func TestBoundsMatchBruteForce(t *testing.T) {
	dup := make([]float64, 0, 3*3000) // many exact duplicates and ties
	for i := range 3000 {
		dup = append(dup, float64(i%7), float64(i%5), float64((i*i)%3))
	}
	cases := []struct {
		name string
		x    []float64
		dim  int
		k    int
	}{
		{"rfm k8", syntheticRFM(minParallelPoints+5, 8), 3, 8},
		{"rfm k20", syntheticRFM(4000, 9), 3, 20},
		{"dim5", func() []float64 {
			x, _ := blobs(4, [][]float64{{0, 0, 0, 0, 0}, {2, 0, 1, 0, 2}, {0, 2, 2, 1, 0}, {1, 1, 1, 1, 1}}, 600, 1.2)
			return x
		}(), 5, 6},
		{"duplicates", dup, 3, 9},
		{"large offset", func() []float64 {
			x := syntheticRFM(5000, 10)
			for i := range x {
				x[i] += 1e6
			}
			return x
		}(), 3, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(0); seed < 2; seed++ {
				var traces [2][]float64
				var results [2]result
				var labels [2][]int
				for v := range 2 {
					e := newEngine(tc.x, tc.dim, tc.k, 2, true)
					if v == 1 {
						e.lower = nil // brute force
					}
					e.seedPlusPlus(newRand(seed))
					res, err := e.lloyd(context.Background(), 150, 0, func(_ int, in float64) { traces[v] = append(traces[v], in) })
					e.close()
					if err != nil {
						t.Fatal(err)
					}
					results[v], labels[v] = res, e.labels
				}
				if !slices.Equal(traces[0], traces[1]) {
					t.Fatalf("seed %d: inertia traces differ:\nbounded %v\nbrute   %v", seed, traces[0], traces[1])
				}
				if results[0].inertia != results[1].inertia || !slices.Equal(results[0].centroids, results[1].centroids) ||
					!slices.Equal(labels[0], labels[1]) || results[0].iterations != results[1].iterations {
					t.Fatalf("seed %d: bounded and brute-force results differ", seed)
				}
			}
		})
	}
}

func TestStoppingRule(t *testing.T) {
	x := syntheticRFM(6000, 12)
	base, baseLabels, err := Fit(x, 3, Options{K: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !base.Converged || base.Iterations < 3 {
		t.Fatalf("default fit: converged %v after %d iterations; want convergence after >= 3", base.Converged, base.Iterations)
	}

	// Tol is relative to the data's variance: scaling by 8 (exact in
	// floating point) gives the same run, inertia times 64.
	x8 := slices.Clone(x)
	for i := range x8 {
		x8[i] *= 8
	}
	m8, labels8, err := Fit(x8, 3, Options{K: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if m8.Iterations != base.Iterations || !slices.Equal(labels8, baseLabels) || m8.Inertia != 64*base.Inertia {
		t.Errorf("scaled data: %d iterations, inertia %v; want %d, %v", m8.Iterations, m8.Inertia, base.Iterations, 64*base.Inertia)
	}

	// A huge tolerance stops after the first update.
	m, _, err := Fit(x, 3, Options{K: 8, Seed: 3, Tol: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	if m.Iterations != 1 || !m.Converged {
		t.Errorf("Tol 1e6: %d iterations, converged %v; want 1, true", m.Iterations, m.Converged)
	}

	// MaxIter caps the run.
	m, _, err = Fit(x, 3, Options{K: 8, Seed: 3, MaxIter: 2, Tol: -1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Iterations != 2 || m.Converged {
		t.Errorf("MaxIter 2: %d iterations, converged %v; want 2, false", m.Iterations, m.Converged)
	}

	// Tol < 0 runs to strict convergence: the centroids are a fixed point.
	strict, _, err := Fit(x, 3, Options{K: 8, Seed: 3, Tol: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !strict.Converged || strict.Iterations < base.Iterations || strict.Inertia > base.Inertia {
		t.Errorf("Tol -1: %d iterations, inertia %v, converged %v; want >= %d, <= %v, true",
			strict.Iterations, strict.Inertia, strict.Converged, base.Iterations, base.Inertia)
	}
	sums, counts, _ := Accumulate(x, 3, strict.Centroids)
	if Shift(strict.Centroids, Update(sums, counts, strict.Centroids)) > 1e-24 {
		t.Errorf("Tol -1: centroids are not a fixed point of Lloyd's step")
	}
}
