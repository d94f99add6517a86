package clv

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// synthGG draws n customers' repeat counts (1..20) and mean values from the
// Gamma-Gamma model with parameters (p, q, γ).
func synthGG(rng *rand.Rand, n int, p, q, g float64) (x, mbar []float64) {
	x = make([]float64, n)
	mbar = make([]float64, n)
	for i := range x {
		x[i] = float64(1 + rng.IntN(20))
		nu := gammaRand(rng, q) / g
		var sum float64
		for range int(x[i]) {
			sum += gammaRand(rng, p) / nu
		}
		mbar[i] = sum / x[i]
	}
	return x, mbar
}

func TestGammaGammaGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x, m := synthGG(rng, 500, 6, 3.7, 15)
	// Non-integer x and customers without repeat value take other paths.
	x = append(x, 2.5, 0, 3, 1500)
	m = append(m, 20, 10, 0, 40)
	for _, p := range [][3]float64{{6.25, 3.74, 15.44}, {1, 1, 1}, {0.3, 8, 100}} {
		_, g := GammaGammaLogLik(p, x, m)
		for i := range 3 {
			h := 1e-6 * p[i]
			hi, lo := p, p
			hi[i] += h
			lo[i] -= h
			fhi, _ := GammaGammaLogLik(hi, x, m)
			flo, _ := GammaGammaLogLik(lo, x, m)
			fd := (fhi - flo) / (2 * h)
			if d := math.Abs(fd - g[i]); d > 1e-5*math.Max(1, math.Abs(fd)) {
				t.Errorf("p=%v: ∂/∂p%d analytic %.9g, finite difference %.9g", p, i, g[i], fd)
			}
		}
	}
}

// TestGammaGammaLogLikDirect compares with the density of note 025.
func TestGammaGammaLogLikDirect(t *testing.T) {
	p, q, g := 6.25, 3.74, 15.44
	for _, c := range []struct{ x, m float64 }{{1, 20}, {2, 35.5}, {29, 12}} {
		px := p * c.x
		want := lgamma(px+q) - lgamma(px) - lgamma(q) + q*math.Log(g) + (px-1)*math.Log(c.m) +
			px*math.Log(c.x) - (px+q)*math.Log(g+c.x*c.m)
		got, _ := GammaGammaLogLik([3]float64{p, q, g}, []float64{c.x, 0}, []float64{c.m, 99})
		if math.Abs(got-want) > 1e-12*math.Abs(want) {
			t.Errorf("LL(x=%v, m=%v) = %.15g, want %.15g", c.x, c.m, got, want)
		}
	}
}

func TestFitGammaGammaSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x, m := synthGG(rng, 20000, 6, 3.7, 15)
	gg, err := FitGammaGamma(x, m)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{6, 3.7, 15} {
		if got := gg.Params()[i]; math.Abs(got-want) > 0.15*want {
			t.Errorf("param %d = %.4f, truth %v", i, got, want)
		}
	}
	// Scaling money by 100 scales γ by 100 and leaves p, q unchanged.
	cents := make([]float64, len(m))
	for i, v := range m {
		cents[i] = 100 * v
	}
	gc, err := FitGammaGamma(x, cents)
	if err != nil {
		t.Fatal(err)
	}
	want := gg.Params()
	want[2] *= 100
	for i, v := range gc.Params() {
		if math.Abs(v-want[i]) > 1e-4*want[i] {
			t.Errorf("cents: param %d = %.6f, want %.6f", i, v, want[i])
		}
	}
}

func TestFitGammaGammaErrors(t *testing.T) {
	if _, err := FitGammaGamma([]float64{0, 0}, []float64{0, 0}); !errors.Is(err, ErrNoData) {
		t.Errorf("no repeaters: error = %v, want ErrNoData", err)
	}
	if _, err := FitGammaGamma([]float64{1}, []float64{1, 2}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("length mismatch: error = %v, want ErrInvalidInput", err)
	}
	if _, err := FitGammaGamma([]float64{1, 2}, []float64{10, math.NaN()}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NaN value: error = %v, want ErrInvalidInput", err)
	}
	if _, err := FitGammaGamma([]float64{1, -2}, []float64{10, 3}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("negative x: error = %v, want ErrInvalidInput", err)
	}
}

func TestExpectedValue(t *testing.T) {
	gg := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	pop := gg.P * gg.Gamma / (gg.Q - 1)
	if got := gg.ExpectedValue(0, 123); math.Abs(got-pop) > 1e-12 {
		t.Errorf("ExpectedValue(0) = %v, want population mean %v", got, pop)
	}
	for _, c := range []struct{ x, m float64 }{{1, 10}, {2, 35}, {10, 50}} {
		w := gg.P * c.x / (gg.P*c.x + gg.Q - 1)
		want := (1-w)*pop + w*c.m
		if got := gg.ExpectedValue(c.x, c.m); math.Abs(got-want) > 1e-12*want {
			t.Errorf("ExpectedValue(%v, %v) = %v, want %v", c.x, c.m, got, want)
		}
	}
	// More transactions pull the estimate towards the customer's own mean.
	if a, b := gg.ExpectedValue(1, 100), gg.ExpectedValue(20, 100); !(a < b && b < 100) {
		t.Errorf("ExpectedValue(1, 100) = %v, (20, 100) = %v", a, b)
	}
	if got := (GammaGamma{P: 1, Q: 0.5, Gamma: 1}).ExpectedValue(0, 0); !math.IsNaN(got) {
		t.Errorf("q ≤ 1, x = 0: %v, want NaN", got)
	}
	if got := gg.ExpectedValue(-1, 1); !math.IsNaN(got) {
		t.Errorf("x < 0: %v, want NaN", got)
	}
}
