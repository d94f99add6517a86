package budget

import (
	"fmt"
	"math"
)

// Fixed-point scales of the ledger.
const (
	// RhoScale is the number of ledger units in ρ = 1 (a resolution of 1e-12).
	RhoScale = 1e12
	// DeltaScale is the number of ledger units in δ = 1 (a resolution of 1e-18).
	DeltaScale = 1e18
)

// Cost is a privacy cost, or an amount of budget, in ledger units. Fields are
// non-negative.
type Cost struct {
	// Rho is ρ of ρ-zCDP in units of 1e-12.
	Rho int64 `json:"rho"`
	// Delta is the δ of δ-approximate zCDP in units of 1e-18: zero for
	// Gaussian, Skellam and pure-DP releases.
	Delta int64 `json:"delta"`
}

// RhoFloat returns ρ as a float.
func (c Cost) RhoFloat() float64 { return float64(c.Rho) / RhoScale }

// DeltaFloat returns the approximate δ as a float.
func (c Cost) DeltaFloat() float64 { return float64(c.Delta) / DeltaScale }

// IsZero reports whether c costs nothing.
func (c Cost) IsZero() bool { return c.Rho == 0 && c.Delta == 0 }

// Covers reports whether c is at least other in every component.
func (c Cost) Covers(other Cost) bool { return c.Rho >= other.Rho && c.Delta >= other.Delta }

// Add returns c + other, and false if a component overflows int64.
func (c Cost) Add(other Cost) (Cost, bool) {
	r, ok1 := addInt64(c.Rho, other.Rho)
	d, ok2 := addInt64(c.Delta, other.Delta)
	return Cost{Rho: r, Delta: d}, ok1 && ok2
}

// Div splits c into n equal parts, rounding down, so that n parts never
// exceed c. n must be ≥ 1 (else the zero Cost is returned).
func (c Cost) Div(n int64) Cost {
	if n < 1 {
		return Cost{}
	}
	return Cost{Rho: c.Rho / n, Delta: c.Delta / n}
}

// Sub returns c − other (callers ensure c covers other).
func (c Cost) Sub(other Cost) Cost { return Cost{Rho: c.Rho - other.Rho, Delta: c.Delta - other.Delta} }

func (c Cost) String() string {
	return fmt.Sprintf("ρ=%.6g δ=%.3g", c.RhoFloat(), c.DeltaFloat())
}

func (c Cost) validate() error {
	if c.Rho < 0 || c.Delta < 0 {
		return fmt.Errorf("cost %+v: %w", c, ErrInvalidCost)
	}
	return nil
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// toUnits converts v ≥ 0 to fixed point, rounding up (costs) or down (caps).
func toUnits(v, scale float64, up bool) (int64, error) {
	if math.IsNaN(v) || v < 0 {
		return 0, fmt.Errorf("value %v: %w", v, ErrInvalidCost)
	}
	x := v * scale
	if up {
		x = math.Ceil(x)
	} else {
		x = math.Floor(x)
	}
	if x >= math.MaxInt64 { // also catches +Inf
		return 0, fmt.Errorf("value %v overflows the ledger: %w", v, ErrInvalidCost)
	}
	return int64(x), nil
}

// RhoCost is the cost of a ρ-zCDP release, ρ rounded up to the ledger's
// resolution (float representation error may add one unit: ε = 0.1 gives
// ε²/2 = 0.005000000000000001, charged 5e9 + 1 units).
func RhoCost(rho float64) (Cost, error) {
	r, err := toUnits(rho, RhoScale, true)
	if err != nil {
		return Cost{}, fmt.Errorf("rho cost: %w", err)
	}
	return Cost{Rho: r}, nil
}

// PureDPCost is the cost ρ = ε²/2 of an ε-DP release.
func PureDPCost(eps float64) (Cost, error) {
	if !(eps > 0) {
		return Cost{}, fmt.Errorf("pure DP cost: epsilon %v: %w", eps, ErrInvalidCost)
	}
	return RhoCost(PureRho(eps))
}

// ApproxDPCost is the cost of an (ε, δ)-DP step, as δ-approximate
// (ε²/2)-zCDP.
func ApproxDPCost(eps, delta float64) (Cost, error) {
	if !(eps > 0) || !(delta >= 0 && delta < 1) {
		return Cost{}, fmt.Errorf("approximate DP cost: (ε, δ) = (%v, %v): %w", eps, delta, ErrInvalidCost)
	}
	c, err := RhoCost(PureRho(eps))
	if err != nil {
		return Cost{}, err
	}
	if c.Delta, err = toUnits(delta, DeltaScale, true); err != nil {
		return Cost{}, fmt.Errorf("approximate DP cost: %w", err)
	}
	return c, nil
}

// GaussianCost is the cost Δ₂²/(2σ²) of Gaussian noise with standard
// deviation sigma on a query of L2 sensitivity l2.
func GaussianCost(l2, sigma float64) (Cost, error) {
	if !(l2 > 0) || !(sigma > 0) {
		return Cost{}, fmt.Errorf("gaussian cost: l2 %v, sigma %v: %w", l2, sigma, ErrInvalidCost)
	}
	return RhoCost(GaussianRho(l2, sigma))
}

// SkellamCost is the cost [SkellamRho] of symmetric Skellam noise of total
// variance mu on an integer query with L1 sensitivity l1 and L2 sensitivity
// l2 (l2 ≤ l1).
func SkellamCost(l1, l2, mu float64) (Cost, error) {
	if !(l1 > 0) || !(l2 > 0) || l2 > l1 || !(mu > 0) {
		return Cost{}, fmt.Errorf("skellam cost: l1 %v, l2 %v, mu %v: %w", l1, l2, mu, ErrInvalidCost)
	}
	return RhoCost(SkellamRho(l1, l2, mu))
}

// GaussianSigmaFor returns a σ (the smallest to within 1e-9 relative) at
// which GaussianCost(l2, σ) fits in c.Rho units: calibrate a release to an
// allotment (e.g. remaining.Div(rounds)) without rounding pushing its cost
// above the allotment.
func GaussianSigmaFor(c Cost, l2 float64) (float64, error) {
	return fitToUnits(c, func(rho float64) float64 { return GaussianSigma(rho, l2) },
		func(x float64) (Cost, error) { return GaussianCost(l2, x) })
}

// SkellamVarianceFor returns a total variance μ (the smallest to within 1e-9
// relative) at which SkellamCost(l1, l2, μ) fits in c.Rho units.
func SkellamVarianceFor(c Cost, l1, l2 float64) (float64, error) {
	return fitToUnits(c, func(rho float64) float64 { return SkellamVariance(rho, l1, l2) },
		func(x float64) (Cost, error) { return SkellamCost(l1, l2, x) })
}

// fitToUnits calibrates a noise scale x = scale(ρ) one unit below c.Rho and
// grows it until cost(x) fits in c.Rho.
func fitToUnits(c Cost, scale func(rho float64) float64, cost func(x float64) (Cost, error)) (float64, error) {
	if c.Rho < 2 {
		return 0, fmt.Errorf("calibrate to %v: %w", c, ErrInvalidCost)
	}
	x := scale(float64(c.Rho-1) / RhoScale)
	for range 64 {
		got, err := cost(x)
		if err != nil {
			return 0, fmt.Errorf("calibrate to %v: %w", c, err)
		}
		if got.Rho <= c.Rho {
			return x, nil
		}
		x *= 1 + 1e-9
	}
	return 0, fmt.Errorf("calibrate to %v: no noise scale fits: %w", c, ErrInvalidCost)
}
