package clv

import (
	"math"
	"testing"
)

func TestCLV(t *testing.T) {
	bg := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	gg := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	s := Summary{X: 2, Tx: 30.43, T: 38.86}
	mbar := 30.0
	value := gg.ExpectedValue(s.X, mbar)

	// No discount: expected value × expected purchases over the horizon.
	want := value * bg.ExpectedPurchases(52, s)
	if got := CLV(bg, gg, s, mbar, 52, 0); math.Abs(got-want) > 1e-9*want {
		t.Errorf("CLV(no discount) = %v, want %v", got, want)
	}
	// A non-integer horizon ends with a partial step.
	want = value * bg.ExpectedPurchases(10.5, s)
	if got := CLV(bg, gg, s, mbar, 10.5, 0); math.Abs(got-want) > 1e-9*want {
		t.Errorf("CLV(10.5, no discount) = %v, want %v", got, want)
	}
	// Discounting: explicit sum over weekly steps.
	d := 0.002
	var sum, prev float64
	for k := 1; k <= 52; k++ {
		cum := bg.ExpectedPurchases(float64(k), s)
		sum += (cum - prev) / math.Pow(1+d, float64(k))
		prev = cum
	}
	if got := CLV(bg, gg, s, mbar, 52, d); math.Abs(got-value*sum) > 1e-9*value*sum {
		t.Errorf("CLV(discounted) = %v, want %v", got, value*sum)
	}
	// Monthly schedule as lifetimes does it: 12 months of 52/12 weeks at 1% a month.
	step := 52.0 / 12
	sum, prev = 0, 0
	for k := 1; k <= 12; k++ {
		cum := bg.ExpectedPurchases(float64(k)*step, s)
		sum += (cum - prev) / math.Pow(1.01, float64(k))
		prev = cum
	}
	if got := CLVSchedule(bg, gg, s, mbar, 52, step, 0.01); math.Abs(got-value*sum) > 1e-9*value*sum {
		t.Errorf("CLVSchedule(monthly) = %v, want %v", got, value*sum)
	}
	// Discounting lowers CLV; longer horizons raise it.
	if a, b, c := CLV(bg, gg, s, mbar, 52, 0.01), CLV(bg, gg, s, mbar, 52, 0), CLV(bg, gg, s, mbar, 104, 0.01); !(a < b && a < c) {
		t.Errorf("CLV ordering: discounted %v, undiscounted %v, longer %v", a, b, c)
	}
	if got := CLV(bg, gg, s, mbar, 0, 0.01); got != 0 {
		t.Errorf("CLV(horizon 0) = %v, want 0", got)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if got := CLV(bg, gg, s, mbar, bad, 0.01); !math.IsNaN(got) {
			t.Errorf("CLV(horizon %v) = %v, want NaN", bad, got)
		}
		if got := CLVSchedule(bg, gg, s, mbar, 52, bad, 0.01); !math.IsNaN(got) {
			t.Errorf("CLVSchedule(step %v) = %v, want NaN", bad, got)
		}
	}
	if got := CLV(BGNBD{}, gg, s, mbar, 52, 0.01); !math.IsNaN(got) {
		t.Errorf("CLV(zero model) = %v, want NaN", got)
	}
}

func TestSummaryFromTimes(t *testing.T) {
	for _, c := range []struct {
		times []float64
		end   float64
		want  Summary
	}{
		{nil, 10, Summary{}},
		{[]float64{12}, 10, Summary{}},
		{[]float64{3}, 10, Summary{X: 0, Tx: 0, T: 7}},
		{[]float64{3, 5, 9.5}, 10, Summary{X: 2, Tx: 6.5, T: 7}},
		{[]float64{3, 5, 10, 11, 20}, 10, Summary{X: 2, Tx: 7, T: 7}},
	} {
		if got := SummaryFromTimes(c.times, c.end); got != c.want {
			t.Errorf("SummaryFromTimes(%v, %v) = %+v, want %+v", c.times, c.end, got, c.want)
		}
	}
	times, values := []float64{3, 5, 9, 12}, []float64{100, 10, 20, 1000}
	if got := MeanRepeatValue(times, values, 10); got != 15 {
		t.Errorf("MeanRepeatValue = %v, want 15", got)
	}
	if got := MeanRepeatValue(times[:1], values[:1], 10); got != 0 {
		t.Errorf("MeanRepeatValue(one purchase) = %v, want 0", got)
	}
	if got := MeanRepeatValue(times, values[:2], 10); got != 0 {
		t.Errorf("MeanRepeatValue(length mismatch) = %v, want 0", got)
	}
}
