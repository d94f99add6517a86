package clv

import "math"

// CLV returns a customer's discounted expected spend over horizon time
// units, with discount the discount rate per time unit. It is
// CLVSchedule(bg, gg, s, mbar, horizon, 1, discount): one step per time unit.
func CLV(bg BGNBD, gg GammaGamma, s Summary, mbar float64, horizon, discount float64) float64 {
	return CLVSchedule(bg, gg, s, mbar, horizon, 1, discount)
}

// CLVSchedule returns a customer's discounted expected spend over the next
// horizon time units, discretised in steps of length step (in time units)
// with discount the discount rate per step:
//
//	CLV = Σ_{k=1}^{K} E[M|x,m̄] · (E[Y(t_k)] − E[Y(t_{k−1})]) / (1+discount)^(t_k/step),
//
// t_k = min(k·step, horizon), K = ⌈horizon/step⌉, E[Y(·)] the conditional
// expected purchases (BGNBD.ExpectedPurchases) and E[M|x,m̄] the Gamma-Gamma
// expected value. Purchases are discounted at the end of their step. With
// weeks as the time unit, step = 52/12 (≈ 4.345 weeks, a month) and a
// monthly discount rate, it is the lifetimes customer_lifetime_value
// computation. Invalid input (negative horizon or rate, non-positive step, a
// model or summary that is not valid) gives NaN.
func CLVSchedule(bg BGNBD, gg GammaGamma, s Summary, mbar float64, horizon, step, discount float64) float64 {
	if !(horizon >= 0) || !(step > 0) || !(discount >= 0) || !finite(horizon) || !finite(step) || !finite(discount) {
		return math.NaN()
	}
	value := gg.ExpectedValue(s.X, mbar)
	if math.IsNaN(value) {
		return math.NaN()
	}
	const maxSteps = 1 << 20
	k := math.Ceil(horizon / step)
	if k > maxSteps {
		return math.NaN()
	}
	alive := bg.PAlive(s) // NaN for an invalid model or summary
	if math.IsNaN(alive) {
		return math.NaN()
	}
	// E[Y(t)] = P(alive)·E[X(t)] under the posterior parameters, as in
	// BGNBD.ExpectedPurchases, without re-validating at every step.
	var total, prev float64
	for i := 1; i <= int(k); i++ {
		t := math.Min(float64(i)*step, horizon)
		cum := expectedX(bg.R+s.X, bg.Alpha+s.T, bg.A, bg.B+s.X, t, 0)
		total += (cum - prev) / math.Pow(1+discount, t/step)
		prev = cum
	}
	return value * alive * total
}
