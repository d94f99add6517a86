package clv

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
)

// synthBGNBD draws n customers from a BG/NBD process with the given
// parameters, observed over (0, T] with T uniform on [minT, maxT].
func synthBGNBD(rng *rand.Rand, n int, p [4]float64, minT, maxT float64) []Summary {
	r, alpha, a, b := p[0], p[1], p[2], p[3]
	out := make([]Summary, n)
	for i := range out {
		lambda := gammaRand(rng, r) / alpha
		pd := betaRand(rng, a, b)
		T := minT + (maxT-minT)*rng.Float64()
		var s Summary
		s.T = T
		t := 0.0
		for {
			t += rng.ExpFloat64() / lambda
			if t > T {
				break
			}
			s.X++
			s.Tx = t
			if rng.Float64() < pd { // dies after this purchase
				break
			}
		}
		out[i] = s
	}
	return out
}

// gammaRand draws Gamma(shape k, scale 1) (Marsaglia-Tsang, boosted for k<1).
func gammaRand(rng *rand.Rand, k float64) float64 {
	if k < 1 {
		return gammaRand(rng, k+1) * math.Pow(rng.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

func betaRand(rng *rand.Rand, a, b float64) float64 {
	x := gammaRand(rng, a)
	return x / (x + gammaRand(rng, b))
}

// TestBGNBDGradient compares the analytic gradient with central finite
// differences, on CDNOW and on synthetic data with non-integer x (which takes
// the lgamma/digamma path instead of the recurrence table).
func TestBGNBDGradient(t *testing.T) {
	cdnow, _ := cdnowSummaries(t)
	rng := rand.New(rand.NewPCG(1, 2))
	synth := synthBGNBD(rng, 500, [4]float64{0.5, 3, 0.7, 2.5}, 5, 50)
	frac := make([]Summary, len(synth))
	for i, s := range synth {
		frac[i] = s
		if s.X > 0 {
			frac[i].X += 0.37
		}
	}
	sets := map[string][]Summary{"cdnow": cdnow, "synthetic": synth, "non-integer x": frac}
	points := [][4]float64{
		{0.243, 4.414, 0.793, 2.426},
		{1, 1, 1.5, 0.8},
		{2.5, 20, 0.2, 7},
		{0.05, 0.3, 3, 0.4},
	}
	for name, s := range sets {
		for _, p := range points {
			_, g := BGNBDLogLik(p, s)
			for i := range 4 {
				h := 1e-6 * p[i]
				hi, lo := p, p
				hi[i] += h
				lo[i] -= h
				fhi, _ := BGNBDLogLik(hi, s)
				flo, _ := BGNBDLogLik(lo, s)
				fd := (fhi - flo) / (2 * h)
				if d := math.Abs(fd - g[i]); d > 1e-6*math.Max(1, math.Abs(fd))*float64(len(s))/100 && d > 1e-5*math.Abs(fd) {
					t.Errorf("%s p=%v: ∂/∂p%d analytic %.9g, finite difference %.9g", name, p, i, g[i], fd)
				}
			}
		}
	}
}

// TestBGNBDTableMatchesDirect checks the recurrence table against the
// lgamma/digamma path for integer x.
func TestBGNBDTableMatchesDirect(t *testing.T) {
	r, a, b := 0.243, 0.793, 2.426
	s := []Summary{{X: 5000, T: 1}}
	tab := newBGTable(r, a, b, s)
	for _, x := range []float64{0, 1, 2, 7, 29, 300, 4999, 5000} {
		t1, t2, t3, t4, t5 := tab.terms(r, a, b, x)
		d1, d2, d3, d4, d5 := bgTable{}.terms(r, a, b, x)
		got := []float64{t1, t2, t3, t4, t5}
		want := []float64{d1, d2, d3, d4, d5}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-10*math.Max(1, math.Abs(want[i])) {
				t.Errorf("x=%v term %d: table %.15g, direct %.15g", x, i, got[i], want[i])
			}
		}
	}
}

// TestBGNBDLogLikAdditive checks that the log-likelihood and gradient of a
// split data set add up to those of the whole, which a federation relies on.
func TestBGNBDLogLikAdditive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := synthBGNBD(rng, 1000, [4]float64{0.3, 5, 0.8, 2}, 10, 40)
	p := [4]float64{0.3, 5, 0.8, 2}
	ll, g := BGNBDLogLik(p, s)
	ll1, g1 := BGNBDLogLik(p, s[:317])
	ll2, g2 := BGNBDLogLik(p, s[317:])
	if math.Abs(ll-(ll1+ll2)) > 1e-9*math.Abs(ll) {
		t.Errorf("LL whole %.12g, parts %.12g", ll, ll1+ll2)
	}
	for i := range g {
		if math.Abs(g[i]-(g1[i]+g2[i])) > 1e-9*math.Max(1, math.Abs(g[i])) {
			t.Errorf("grad %d whole %.12g, parts %.12g", i, g[i], g1[i]+g2[i])
		}
	}
	one, _ := BGNBDCustomerLogLik(p, s[0])
	first, _ := BGNBDLogLik(p, s[:1])
	if one != first {
		t.Errorf("BGNBDCustomerLogLik = %v, BGNBDLogLik of one = %v", one, first)
	}
}

// TestBGNBDLogLikDirect compares with a direct evaluation of FHL 2005 eq. 6.
func TestBGNBDLogLikDirect(t *testing.T) {
	p := [4]float64{0.243, 4.414, 0.793, 2.426}
	r, al, a, b := p[0], p[1], p[2], p[3]
	for _, s := range []Summary{{0, 0, 38.86}, {2, 30.43, 38.86}, {1, 1.71, 38.86}, {29, 37, 38.5}} {
		x := s.X
		A1 := math.Exp(lgamma(r+x) - lgamma(r) + r*math.Log(al))
		A2 := math.Exp(lgamma(a+b) + lgamma(b+x) - lgamma(b) - lgamma(a+b+x))
		A3 := math.Pow(al+s.T, -(r + x))
		A4 := 0.0
		if x > 0 {
			A4 = a / (b + x - 1) * math.Pow(al+s.Tx, -(r+x))
		}
		want := math.Log(A1 * A2 * (A3 + A4))
		got, _ := BGNBDCustomerLogLik(p, s)
		if math.Abs(got-want) > 1e-12*math.Abs(want) {
			t.Errorf("LL(%+v) = %.15g, want %.15g", s, got, want)
		}
	}
}

func TestBGNBDLogLikBadParams(t *testing.T) {
	s := []Summary{{1, 1, 2}}
	for _, p := range [][4]float64{{0, 1, 1, 1}, {1, -1, 1, 1}, {1, 1, math.NaN(), 1}, {1, 1, 1, math.Inf(1)}} {
		if ll, _ := BGNBDLogLik(p, s); !math.IsInf(ll, -1) {
			t.Errorf("BGNBDLogLik(%v) = %v, want -Inf", p, ll)
		}
	}
}

// TestFitBGNBDSynthetic recovers known parameters from 20,000 simulated
// customers, from the default start and when time is rescaled (days).
func TestFitBGNBDSynthetic(t *testing.T) {
	truth := [4]float64{0.6, 4, 0.9, 3}
	rng := rand.New(rand.NewPCG(5, 6))
	s := synthBGNBD(rng, 20000, truth, 20, 60)
	m, err := FitBGNBD(s)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Params() {
		if math.Abs(v-truth[i]) > 0.25*truth[i] {
			t.Errorf("param %d = %.4f, truth %.4f", i, v, truth[i])
		}
	}
	// Rescaling time by 7 multiplies α by 7 and leaves r, a, b unchanged.
	days := make([]Summary, len(s))
	for i, c := range s {
		days[i] = Summary{X: c.X, Tx: 7 * c.Tx, T: 7 * c.T}
	}
	md, err := FitBGNBD(days)
	if err != nil {
		t.Fatal(err)
	}
	want := m.Params()
	want[1] *= 7
	for i, v := range md.Params() {
		if math.Abs(v-want[i]) > 1e-4*want[i] {
			t.Errorf("days: param %d = %.6f, want %.6f", i, v, want[i])
		}
	}
}

func TestFitBGNBDErrors(t *testing.T) {
	if _, err := FitBGNBD(nil); !errors.Is(err, ErrNoData) {
		t.Errorf("FitBGNBD(nil) error = %v, want ErrNoData", err)
	}
	for _, s := range []Summary{{-1, 0, 1}, {1, 2, 1}, {1, math.NaN(), 1}, {1, 0, math.Inf(1)}} {
		if _, err := FitBGNBD([]Summary{{1, 1, 2}, s}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("FitBGNBD(%+v) error = %v, want ErrInvalidInput", s, err)
		}
	}
	boom := errors.New("site unreachable")
	_, err := FitBGNBDObjective(10, BGNBDStart(1, 1), func(p [4]float64) (float64, [4]float64, error) {
		return 0, [4]float64{}, boom
	})
	if !errors.Is(err, boom) || !errors.Is(err, ErrObjective) {
		t.Errorf("failing objective: error = %v, want ErrObjective and the objective's error", err)
	}
}

// TestFitBGNBDObjectiveFederated fits from an objective that sums three
// "sites" and checks it equals the pooled fit.
func TestFitBGNBDObjectiveFederated(t *testing.T) {
	s, _ := cdnowSummaries(t)
	pooled, err := FitBGNBD(s)
	if err != nil {
		t.Fatal(err)
	}
	sites := [][]Summary{s[:800], s[800:1500], s[1500:]}
	var sumX, sumT float64
	for _, c := range s {
		sumX += c.X
		sumT += c.T
	}
	fed, err := FitBGNBDObjective(float64(len(s)), BGNBDStart(sumX, sumT), func(p [4]float64) (float64, [4]float64, error) {
		var ll float64
		var g [4]float64
		for _, site := range sites {
			l, gs := BGNBDLogLik(p, site)
			ll += l
			for i := range g {
				g[i] += gs[i]
			}
		}
		return ll, g, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range fed.Params() {
		if math.Abs(v-pooled.Params()[i]) > 1e-6*pooled.Params()[i] {
			t.Errorf("param %d: federated %.9f, pooled %.9f", i, v, pooled.Params()[i])
		}
	}
}

func TestPAlive(t *testing.T) {
	m := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	if got := m.PAlive(Summary{0, 0, 30}); got != 1 {
		t.Errorf("PAlive(x=0) = %v, want 1", got)
	}
	// Direct formula.
	s := Summary{X: 2, Tx: 30.43, T: 38.86}
	want := 1 / (1 + m.A/(m.B+s.X-1)*math.Pow((m.Alpha+s.T)/(m.Alpha+s.Tx), m.R+s.X))
	if got := m.PAlive(s); math.Abs(got-want) > 1e-14 {
		t.Errorf("PAlive(%+v) = %v, want %v", s, got, want)
	}
	// A purchase at the end of calibration means alive with P = 1/(1+a/(b+x−1)).
	if got, want := m.PAlive(Summary{3, 10, 10}), 1/(1+m.A/(m.B+2)); math.Abs(got-want) > 1e-14 {
		t.Errorf("PAlive(t_x = T) = %v, want %v", got, want)
	}
	// Longer silence lowers P(alive); bounded in [0, 1].
	prev := 1.0
	for T := 5.0; T < 500; T *= 1.5 {
		p := m.PAlive(Summary{5, 5, T})
		if p < 0 || p > 1 || p > prev {
			t.Errorf("PAlive({5,5,%v}) = %v after %v", T, p, prev)
		}
		prev = p
	}
	if got := m.PAlive(Summary{1, 2, 1}); !math.IsNaN(got) {
		t.Errorf("PAlive(t_x > T) = %v, want NaN", got)
	}
}

func TestExpectedPurchases(t *testing.T) {
	m := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	s := Summary{X: 2, Tx: 30.43, T: 38.86}
	if got := m.ExpectedPurchases(0, s); got != 0 {
		t.Errorf("ExpectedPurchases(0) = %v", got)
	}
	prev := 0.0
	for _, tt := range []float64{0.5, 1, 5, 39, 100, 500, 5000} {
		got := m.ExpectedPurchases(tt, s)
		if !(got > prev) {
			t.Errorf("ExpectedPurchases(%v) = %v, not above %v", tt, got, prev)
		}
		prev = got
	}
	// For small t, E[Y(t)] ≈ P(alive)·E[λ | alive, history]·t = P(alive)·(r+x)/(α+T)·t.
	tt := 1e-4
	want := m.PAlive(s) * (m.R + s.X) / (m.Alpha + s.T) * tt
	if got := m.ExpectedPurchases(tt, s); math.Abs(got-want) > 1e-3*want {
		t.Errorf("ExpectedPurchases(%v) = %v, want ≈ %v", tt, got, want)
	}
	// A new customer (x=0, T=0) has the unconditional expectation.
	for _, tt := range []float64{1, 39, 300} {
		got, want := m.ExpectedPurchases(tt, Summary{}), m.ExpectedPurchasesNew(tt)
		if math.Abs(got-want) > 1e-10*want {
			t.Errorf("t=%v: conditional at birth %v, unconditional %v", tt, got, want)
		}
	}
	// a = 1 is a removable singularity: continuous across it.
	for _, fn := range []func(BGNBD) float64{
		func(m BGNBD) float64 { return m.ExpectedPurchases(39, s) },
		func(m BGNBD) float64 { return m.ExpectedPurchasesNew(39) },
	} {
		lo, mid, hi := m, m, m
		lo.A, mid.A, hi.A = 1-1e-4, 1, 1+1e-4
		vl, vm, vh := fn(lo), fn(mid), fn(hi)
		if math.IsNaN(vm) || math.Abs(vm-(vl+vh)/2) > 1e-6*vm {
			t.Errorf("a=1: %v between %v and %v", vm, vl, vh)
		}
	}
	if got := m.ExpectedPurchases(-1, s); !math.IsNaN(got) {
		t.Errorf("ExpectedPurchases(-1) = %v, want NaN", got)
	}
	if got := (BGNBD{}).ExpectedPurchasesNew(1); !math.IsNaN(got) {
		t.Errorf("zero model ExpectedPurchasesNew = %v, want NaN", got)
	}
}

// hyp2f1Series sums the Gauss series with all terms positive (a, b, c > 0,
// 0 ≤ z < 1), accurate to rounding; used to check gonum's Hypergeo.
func hyp2f1Series(a, b, c, z float64) float64 {
	sum, term := 1.0, 1.0
	for k := 0.0; k < 5e6; k++ {
		term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
		sum += term
		if term < 1e-17*sum && (a+k)*(b+k)*z < (c+k)*(k+1) {
			break
		}
	}
	return sum
}

// TestPowHypAccuracy checks (1−z)^a·₂F₁ as used by ExpectedPurchases against
// the positive-term series over the domain the BG/NBD predictions use:
// a = r+x, b = b+x, c = a_+b+x−1 > 0, z = t/(α+T+t) up to 0.98.
func TestPowHypAccuracy(t *testing.T) {
	worst := 0.0
	for _, r := range []float64{0.05, 0.243, 1, 4} {
		for _, aa := range []float64{0.3, 0.793, 1.7, 5} {
			for _, bb := range []float64{0.5, 2.426, 10} {
				for _, x := range []float64{0, 1, 2, 7, 29, 100} {
					c := aa + bb + x - 1
					if c <= 0 {
						continue
					}
					for _, z := range []float64{0.01, 0.3, 0.5, 0.8, 0.9, 0.95, 0.98} {
						got := powHyp(r+x, bb+x, c, z, 1-z)
						want := math.Pow(1-z, r+x) * hyp2f1Series(r+x, bb+x, c, z)
						rel := math.Abs(got-want) / want
						worst = math.Max(worst, rel)
						if !(rel < 1e-9) {
							t.Errorf("(1-z)^a 2F1(%v, %v; %v; %v) = %.15g, series %.15g (rel %.2g)", r+x, bb+x, c, z, got, want, rel)
						}
					}
				}
			}
		}
	}
	t.Logf("worst relative error %.3g", worst)
}

// TestFitDegenerate feeds data whose likelihood has its maximum on the
// boundary of the parameter space: the fits must stop quickly, without a
// panic, with either ErrNotConverged or finite positive parameters.
func TestFitDegenerate(t *testing.T) {
	for name, s := range map[string][]Summary{
		"all x = 0":      {{0, 0, 10}, {0, 0, 20}, {0, 0, 5}},
		"one customer":   {{3, 5, 10}},
		"identical":      {{2, 5, 10}, {2, 5, 10}, {2, 5, 10}},
		"T = 0":          {{0, 0, 0}},
		"buy at the end": {{5, 10, 10}, {5, 10, 10}},
	} {
		m, err := FitBGNBD(s)
		if err != nil {
			if !errors.Is(err, ErrNotConverged) {
				t.Errorf("%s: error %v, want ErrNotConverged", name, err)
			}
			continue
		}
		for i, v := range m.Params() {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%s: param %d = %v", name, i, v)
			}
		}
	}
	if _, err := FitGammaGamma([]float64{1}, []float64{5}); err != nil && !errors.Is(err, ErrNotConverged) {
		t.Errorf("Gamma-Gamma, one customer: error %v, want nil or ErrNotConverged", err)
	}
}

// expectedXQuad computes E[X(t)] = E_p[(1 − (α/(α+pt))^r)/p], p ~ Beta(a, b),
// by Gauss-Legendre quadrature, independently of ₂F₁. The substitutions
// p = s^(1/a) on [0, ½] and 1−p = s^(1/b) on [½, 1] remove the endpoint
// singularities; geometric panels resolve the scale α/t near p = 0.
func expectedXQuad(r, alpha, a, b, t float64) float64 {
	g := func(p float64) float64 {
		if p == 0 {
			return r * t / alpha
		}
		return -math.Expm1(-r*math.Log1p(p*t/alpha)) / p
	}
	panels := func(f func(float64) float64, hi float64) float64 {
		var sum float64
		lo := hi
		for k := 0; k < 16; k++ {
			next := lo / 10
			if k == 15 {
				next = 0
			}
			sum += quad.Fixed(f, next, lo, 200, quad.Legendre{}, 0)
			lo = next
		}
		return sum
	}
	lower := panels(func(s float64) float64 {
		p := math.Pow(s, 1/a)
		return g(p) * math.Pow(1-p, b-1) / a
	}, math.Pow(0.5, a))
	upper := panels(func(s float64) float64 {
		q := math.Pow(s, 1/b)
		return g(1-q) * math.Pow(1-q, a-1) / b
	}, math.Pow(0.5, b))
	logB := lgamma(a) + lgamma(b) - lgamma(a+b)
	return (lower + upper) / math.Exp(logB)
}

// TestExpectedXQuadrature checks the closed form (with its a+b ≤ 1 split and
// a = 1 bridge) against quadrature, including parameters where the direct
// ₂F₁ has c = a+b−1 ≤ 0.
func TestExpectedXQuadrature(t *testing.T) {
	for _, c := range [][4]float64{
		{0.243, 4.414, 0.793, 2.426},
		{0.5, 3, 0.2, 0.5},  // a+b < 1
		{0.5, 3, 0.3, 0.7},  // a+b = 1: c = 0
		{0.5, 3, 0.5, 0.5},  // a+b = 1
		{0.5, 3, 0.05, 0.1}, // a+b ≪ 1
		{2, 10, 1, 2},       // a = 1
		{2, 10, 1 + 1e-7, 2},
		{2, 10, 1.5, 0.3},
		{29.243, 43.3, 0.793, 31.426}, // posterior of a heavy buyer
		{0.1, 0.5, 5, 40},
	} {
		m := BGNBD{R: c[0], Alpha: c[1], A: c[2], B: c[3]}
		for _, tt := range []float64{0.5, 5, 39, 200} {
			got := m.ExpectedPurchasesNew(tt)
			want := expectedXQuad(c[0], c[1], c[2], c[3], tt)
			if !(math.Abs(got-want) <= 1e-7*want) {
				t.Errorf("params %v: E[X(%v)] = %.12g, quadrature %.12g", c, tt, got, want)
			}
		}
	}
}
