package noise

import (
	"crypto/rand"
	"errors"
	"math"
	mrand "math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// noNoise is a deterministic Int64Noise for unit tests: it returns a fixed
// sequence, cycling.
type noNoise struct {
	seq []int64
	i   int
}

func (n *noNoise) Sample() int64 {
	if len(n.seq) == 0 {
		return 0
	}
	x := n.seq[n.i%len(n.seq)]
	n.i++
	return x
}

func TestAddToDeterministic(t *testing.T) {
	v := []int64{10, 20, 30}
	AddTo(&noNoise{seq: []int64{1, -2}}, v)
	if v[0] != 11 || v[1] != 18 || v[2] != 31 {
		t.Errorf("AddTo(noNoise) = %v, want [11 18 31]", v)
	}
	AddTo(Zero{}, v)
	if v[0] != 11 || v[1] != 18 || v[2] != 31 {
		t.Errorf("AddTo(Zero) changed v to %v", v)
	}
}

func TestShareParams(t *testing.T) {
	p := ShareParams{N: 5, T: 3, Sigma: 6}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := p.ShareVariance(), 12.0; got != want {
		t.Errorf("ShareVariance = %v, want %v", got, want)
	}
	s, err := NewShare(p)
	if err != nil || s.Variance() != 12 {
		t.Fatalf("NewShare = %v, %v", s, err)
	}
	for _, bad := range []ShareParams{
		{N: 3, T: 4, Sigma: 1}, {N: 0, T: 0, Sigma: 1}, {N: 3, T: 2}, {N: 3, T: 2, Sigma: 1, Variance: 1},
		{N: 3, T: 2, Sigma: -1}, {N: 3, T: 2, Variance: math.NaN()}, {N: 3, T: 1, Variance: math.Inf(1)},
	} {
		if _, err := NewShare(bad); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("NewShare(%+v) = %v, want ErrInvalidParams", bad, err)
		}
	}
	if _, err := NewSkellam(0); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("NewSkellam(0) = %v, want ErrInvalidParams", err)
	}
}

func TestSeededStreamsDiffer(t *testing.T) {
	a, _ := NewSkellam(1000)
	b, _ := NewSkellam(1000)
	va, vb := a.Vector(64), b.Vector(64)
	same := 0
	for i := range va {
		if va[i] == vb[i] {
			same++
		}
	}
	// Two independent samplers agree on a coordinate with probability ≈ 1/(2√(πσ²)) ≈ 0.009.
	if same > 16 {
		t.Errorf("two samplers agree on %d of 64 coordinates: are they seeded independently?", same)
	}
}

func cryptoRand(t *testing.T) *mrand.Rand {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		t.Fatal(err)
	}
	return mrand.New(mrand.NewChaCha8(seed))
}

// falseFailure is the probability with which each statistical check below may
// fail although the code is right. There are 30 such checks (18 on the Poisson
// sampler, 12 on distributed sums), so a spurious failure of the package has
// probability below 3e-5 (union bound).
const falseFailure = 1e-6

// TestPoissonGoodnessOfFit runs a chi-square goodness-of-fit test of the
// Poisson sampler against the exact PMF, on both code paths.
func TestPoissonGoodnessOfFit(t *testing.T) {
	r := cryptoRand(t)
	const n = 400000
	z := distuv.UnitNormal.Quantile(1 - falseFailure/2)
	for _, lam := range []float64{0.05, 1.5, 9.99, 10, 37.5, 2500} {
		p := newPoisson(lam)
		dist := distuv.Poisson{Lambda: lam}
		// Bins: every k with expected count ≥ 20, tails pooled into the end bins.
		lo, hi := int64(0), int64(lam)
		for lo < int64(lam) && dist.Prob(float64(lo))*n < 20 {
			lo++
		}
		for dist.Prob(float64(hi+1))*n >= 20 {
			hi++
		}
		obs := make([]float64, hi-lo+1)
		sum, sumSq := 0.0, 0.0
		for range n {
			x := p.sample(r)
			sum += float64(x)
			sumSq += float64(x) * float64(x)
			k := min(max(x, lo), hi)
			obs[k-lo]++
		}
		// Mean and variance (both λ), more sensitive to a small shift than χ².
		mean := sum / n
		if lim := z * math.Sqrt(lam/n); math.Abs(mean-lam) > lim {
			t.Errorf("Poisson(%v): mean %v, want %v ± %v", lam, mean, lam, lim)
		}
		s2 := (sumSq - n*mean*mean) / (n - 1)
		if vlo, vhi := varianceBounds(n, 1/lam); s2/lam < vlo || s2/lam > vhi {
			t.Errorf("Poisson(%v): variance %v, want %v (ratio outside [%v, %v])", lam, s2, lam, vlo, vhi)
		}
		chi2 := 0.0
		for k := lo; k <= hi; k++ {
			var e float64
			switch k {
			case lo:
				e = dist.CDF(float64(lo))
			case hi:
				e = dist.Survival(float64(hi) - 0.5)
			default:
				e = dist.Prob(float64(k))
			}
			if lo == hi {
				e = 1
			}
			e *= n
			d := obs[k-lo] - e
			chi2 += d * d / e
		}
		df := float64(len(obs) - 1)
		if df < 1 {
			t.Fatalf("λ=%v: only %d bins", lam, len(obs))
		}
		limit := distuv.ChiSquared{K: df}.Quantile(1 - falseFailure)
		if chi2 > limit {
			t.Errorf("Poisson(%v): χ² = %.1f on %v df > %.1f (p < %v)", lam, chi2, df, limit, falseFailure)
		}
	}
}

// varianceBounds returns the interval that the ratio s²/V of an unbiased
// sample variance of m draws to the true variance V falls outside with
// probability ≈ falseFailure (two-sided): chi-square quantiles of m−1 degrees
// of freedom, exact for Gaussian data, widened for the excess kurtosis κ of the
// data (Var(s²) ≈ V²·(2/(m−1) + κ/m)).
func varianceBounds(m int, kurtosis float64) (lo, hi float64) {
	df := float64(m - 1)
	chi := distuv.ChiSquared{K: df}
	lo = chi.Quantile(falseFailure/2) / df
	hi = chi.Quantile(1-falseFailure/2) / df
	w := math.Sqrt(1 + kurtosis*df/(2*float64(m)))
	return 1 - (1-lo)*w, 1 + (hi-1)*w
}

// TestDistributedVariance checks the central promise of ShareParams: N sites
// each add a share; the total over all sites has variance N·σ²/T and the
// total over any T sites (N − T dropped) has variance exactly σ².
func TestDistributedVariance(t *testing.T) {
	const dim, reps = 4096, 8 // m = 32,768 totals per check
	for _, c := range []struct {
		n, t  int
		sigma float64
	}{{3, 2, 5.5}, {5, 3, 40}, {10, 4, 12.3}} {
		p := ShareParams{N: c.n, T: c.t, Sigma: c.sigma}
		all := make([]int64, 0, dim*reps)    // every site's share in
		quorum := make([]int64, 0, dim*reps) // only T sites' shares in
		for range reps {
			sumAll := make([]int64, dim)
			sumT := make([]int64, dim)
			// Each rep drops a different random set of N − T sites.
			live := mrand.Perm(c.n)[:c.t]
			isLive := make(map[int]bool, c.t)
			for _, i := range live {
				isLive[i] = true
			}
			for site := range c.n {
				s, err := NewShare(p)
				if err != nil {
					t.Fatal(err)
				}
				v := s.Vector(dim)
				for j, x := range v {
					sumAll[j] += x
					if isLive[site] {
						sumT[j] += x
					}
				}
			}
			all = append(all, sumAll...)
			quorum = append(quorum, sumT...)
		}
		for _, chk := range []struct {
			name string
			v    []int64
			want float64
		}{
			{"all sites", all, float64(c.n) * c.sigma * c.sigma / float64(c.t)},
			{"N−T dropped", quorum, c.sigma * c.sigma},
		} {
			m := len(chk.v)
			mean, ss := 0.0, 0.0
			for _, x := range chk.v {
				mean += float64(x)
			}
			mean /= float64(m)
			for _, x := range chk.v {
				d := float64(x) - mean
				ss += d * d
			}
			s2 := ss / float64(m-1)
			// A Skellam of variance V has excess kurtosis 1/V.
			lo, hi := varianceBounds(m, 1/chk.want)
			if r := s2 / chk.want; r < lo || r > hi {
				t.Errorf("N=%d T=%d σ=%v %s: variance %.3f, want %.3f (ratio %.4f outside [%.4f, %.4f], p < %v)",
					c.n, c.t, c.sigma, chk.name, s2, chk.want, r, lo, hi, falseFailure)
			}
			// Mean 0: |mean| ≤ z·√(V/m), z the two-sided normal quantile.
			z := distuv.UnitNormal.Quantile(1 - falseFailure/2)
			if lim := z * math.Sqrt(chk.want/float64(m)); math.Abs(mean) > lim {
				t.Errorf("N=%d T=%d %s: mean %.4f beyond ±%.4f", c.n, c.t, chk.name, mean, lim)
			}
		}
	}
}
