package kmeans

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
)

// Defaults used for zero-valued Options fields.
const (
	DefaultK        = 8
	DefaultRestarts = 1
	DefaultMaxIter  = 300
	DefaultTol      = 1e-4
)

// Errors returned (wrapped, with context) by this package. Test with errors.Is.
var (
	// ErrDim: dim < 1, or len(points) is not a multiple of dim, or a centroid has the wrong length.
	ErrDim = errors.New("kmeans: bad dimension")
	// ErrK: k < 1, or k greater than the number of points.
	ErrK = errors.New("kmeans: bad number of clusters")
	// ErrNotFinite: a point or centroid coordinate is NaN or ±Inf.
	ErrNotFinite = errors.New("kmeans: non-finite value")
	// ErrOptions: a negative Restarts, MaxIter or Workers.
	ErrOptions = errors.New("kmeans: bad options")
)

// Options configures Fit and FitFrom. The zero value of every field means
// its documented default.
type Options struct {
	// K is the number of clusters. Defaults to DefaultK (8). Fit needs
	// 1 <= K <= number of points. FitFrom takes k from its initial centroids;
	// K must then be 0 or equal to it.
	K int
	// Restarts is the number of k-means++ initialisations (scikit-learn's
	// n_init); the run with the lowest inertia wins, ties to the earliest.
	// Restart r is seeded with Seed+r. Defaults to DefaultRestarts (1, as
	// scikit-learn's n_init="auto" with k-means++). Ignored by FitFrom.
	Restarts int
	// MaxIter caps Lloyd iterations per restart. Defaults to DefaultMaxIter (300).
	MaxIter int
	// Tol is the convergence tolerance, relative to the mean per-feature
	// variance of the data, on the total squared centroid shift (see the
	// package doc). Defaults to DefaultTol (1e-4). A negative Tol means 0:
	// iterate until no label changes or MaxIter.
	Tol float64
	// Seed seeds k-means++ (PCG from math/rand/v2). Zero is a valid seed.
	Seed uint64
	// Workers is the number of goroutines used for the assignment step on
	// large inputs. Defaults to runtime.GOMAXPROCS(0). Results do not depend
	// on it.
	Workers int
}

// Model is a fitted k-means model.
type Model struct {
	// Centroids holds K centroids of dim coordinates each.
	Centroids [][]float64
	// Inertia is the sum over points of the squared distance to the
	// assigned centroid.
	Inertia float64
	// Iterations is the number of Lloyd iterations run by the winning restart.
	Iterations int
	// Sizes is the number of points assigned to each centroid.
	Sizes []int
	// Converged reports whether the winning restart stopped by strict
	// convergence or tolerance rather than MaxIter.
	Converged bool
}

// resolved is Options with defaults filled in.
type resolved struct {
	k, restarts, maxIter, workers int
	tol                           float64
	seed                          uint64
}

func (o Options) resolve() (resolved, error) {
	r := resolved{k: o.K, restarts: o.Restarts, maxIter: o.MaxIter, tol: o.Tol, seed: o.Seed, workers: o.Workers}
	if r.restarts < 0 || r.maxIter < 0 || r.workers < 0 {
		return r, fmt.Errorf("restarts %d, max iterations %d, workers %d: %w", o.Restarts, o.MaxIter, o.Workers, ErrOptions)
	}
	if math.IsNaN(r.tol) {
		return r, fmt.Errorf("tolerance NaN: %w", ErrOptions)
	}
	if r.k == 0 {
		r.k = DefaultK
	}
	if r.restarts == 0 {
		r.restarts = DefaultRestarts
	}
	if r.maxIter == 0 {
		r.maxIter = DefaultMaxIter
	}
	if r.tol == 0 {
		r.tol = DefaultTol
	} else if r.tol < 0 {
		r.tol = 0
	}
	if r.workers == 0 {
		r.workers = runtime.GOMAXPROCS(0)
	}
	return r, nil
}

// checkPoints validates the point matrix and returns the number of points.
func checkPoints(points []float64, dim int) (int, error) {
	if dim < 1 || len(points)%dim != 0 {
		return 0, fmt.Errorf("%d values with dim %d: %w", len(points), dim, ErrDim)
	}
	for i, v := range points {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("point %d coordinate %d is %v: %w", i/dim, i%dim, v, ErrNotFinite)
		}
	}
	return len(points) / dim, nil
}

func checkK(k, n int) error {
	if k < 1 || k > n {
		return fmt.Errorf("k=%d for %d points: %w", k, n, ErrK)
	}
	return nil
}

// Fit clusters n = len(points)/dim points (row-major) into opt.K clusters
// and returns the model and each point's cluster label. See the package doc
// for the exact semantics.
func Fit(points []float64, dim int, opt Options) (Model, []int, error) {
	return FitContext(context.Background(), points, dim, opt)
}

// FitContext is Fit with cancellation: it checks ctx between iterations and
// returns ctx.Err() (wrapped) if it is done.
func FitContext(ctx context.Context, points []float64, dim int, opt Options) (Model, []int, error) {
	o, err := opt.resolve()
	if err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit: %w", err)
	}
	n, err := checkPoints(points, dim)
	if err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit: %w", err)
	}
	if err := checkK(o.k, n); err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit: %w", err)
	}
	e := newEngine(points, dim, o.k, o.workers, true)
	defer e.close()
	tolAbs := o.tol * meanVariance(points, dim)

	var best result
	var bestLabels []int
	for r := 0; r < o.restarts; r++ {
		e.seedPlusPlus(newRand(o.seed + uint64(r)))
		res, err := e.lloyd(ctx, o.maxIter, tolAbs, nil)
		if err != nil {
			return Model{}, nil, fmt.Errorf("kmeans fit, restart %d: %w", r, err)
		}
		if r == 0 || res.inertia < best.inertia {
			best = res
			if o.restarts == 1 {
				bestLabels = e.labels
			} else {
				if bestLabels == nil {
					bestLabels = make([]int, n)
				}
				copy(bestLabels, e.labels)
			}
		}
	}
	return best.model(dim), bestLabels, nil
}

// FitFrom runs Lloyd's algorithm once from the given initial centroids
// (k = len(init)); opt.Restarts and opt.Seed are ignored. The initial
// centroids are not modified.
func FitFrom(points []float64, dim int, init [][]float64, opt Options) (Model, []int, error) {
	o, err := opt.resolve()
	if err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit from centroids: %w", err)
	}
	n, err := checkPoints(points, dim)
	if err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit from centroids: %w", err)
	}
	k := len(init)
	if err := checkK(k, n); err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit from centroids: %w", err)
	}
	if opt.K != 0 && opt.K != k {
		return Model{}, nil, fmt.Errorf("kmeans fit from centroids: options ask k=%d, %d centroids given: %w", opt.K, k, ErrK)
	}
	if err := checkCentroids(init, dim); err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit from centroids: %w", err)
	}
	e := newEngine(points, dim, k, o.workers, true)
	defer e.close()
	for j, c := range init {
		copy(e.cent[j*dim:], c)
	}
	res, err := e.lloyd(context.Background(), o.maxIter, o.tol*meanVariance(points, dim), nil)
	if err != nil {
		return Model{}, nil, fmt.Errorf("kmeans fit from centroids: %w", err)
	}
	return res.model(dim), e.labels, nil
}

func checkCentroids(c [][]float64, dim int) error {
	for j, cj := range c {
		if len(cj) != dim {
			return fmt.Errorf("centroid %d has %d coordinates, want %d: %w", j, len(cj), dim, ErrDim)
		}
		for t, v := range cj {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("centroid %d coordinate %d is %v: %w", j, t, v, ErrNotFinite)
			}
		}
	}
	return nil
}

// meanVariance is the mean over features of the population variance.
func meanVariance(points []float64, dim int) float64 {
	n := len(points) / dim
	if n == 0 {
		return 0
	}
	_, std := moments(points, dim)
	s := 0.0
	for _, sd := range std {
		s += sd * sd
	}
	return s / float64(dim)
}

// result is one Lloyd run's outcome; centroids are a private copy.
type result struct {
	centroids  []float64
	sizes      []int64
	inertia    float64
	iterations int
	converged  bool
}

func (r result) model(dim int) Model {
	k := len(r.sizes)
	m := Model{
		Centroids:  make([][]float64, k),
		Inertia:    r.inertia,
		Iterations: r.iterations,
		Sizes:      make([]int, k),
		Converged:  r.converged,
	}
	for j := range k {
		m.Centroids[j] = append([]float64(nil), r.centroids[j*dim:(j+1)*dim]...)
		m.Sizes[j] = int(r.sizes[j])
	}
	return m
}
