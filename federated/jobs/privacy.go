package jobs

import (
	"fmt"
	"math"

	"github.com/strata-fed/strata/dp/budget"
)

// Privacy is a privacy budget (ε, δ) under the ledger's zCDP conversion
// (budget.LedgerEpsilon). The zero value means DP off: the federation's
// test setting, where nothing is noised or paid and results are exact.
type Privacy struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// Off reports whether DP is disabled.
func (p Privacy) Off() bool { return p.Epsilon == 0 }

// Validate checks the budget.
func (p Privacy) Validate() error {
	if p.Off() {
		return nil
	}
	if !(p.Epsilon > 0) || math.IsInf(p.Epsilon, 0) || !(p.Delta > 0 && p.Delta < 1) {
		return fmt.Errorf("ε=%v δ=%v: %w", p.Epsilon, p.Delta, ErrPrivacy)
	}
	return nil
}

// Rho is the zCDP budget: the largest ρ with LedgerEpsilon(ρ, δ) ≤ ε
// (0 with DP off).
func (p Privacy) Rho() float64 {
	if p.Off() {
		return 0
	}
	return budget.LedgerRho(p.Epsilon, p.Delta)
}

// Fraction returns the budget of a share f of p's ρ (zCDP composes by
// adding ρ, so shares with fractions summing to 1 spend at most p), at the
// same δ. DP off stays off.
func (p Privacy) Fraction(f float64) Privacy {
	if p.Off() {
		return p
	}
	return Privacy{Epsilon: budget.LedgerEpsilon(p.Rho()*f, p.Delta), Delta: p.Delta}
}

// query fills a query's privacy fields.
func (p Privacy) query(q Query) Query {
	q.Epsilon, q.Delta = p.Epsilon, p.Delta
	return q
}

// Cost is what a job spent: its rounds and their zCDP total.
type Cost struct {
	Job    string
	Rounds int
	Rho    float64
}

func (c *Cost) paid(p Privacy) {
	c.Rounds++
	if !p.Off() {
		c.Rho += budget.LedgerRho(p.Epsilon, p.Delta)
	}
}

// Split divides a total budget between the jobs, as fractions of its ρ.
// The fractions must be non-negative and sum to at most 1.
type Split struct {
	Thresholds, Means, KMeans, CLV, Channels float64
}

// DefaultSplit is the split the pipeline uses: 30% of ρ for the R/F/M
// histograms (thresholds and medians), 10% for the means, 30% for k-means
// (standardisation 5%, initial grid 5%, iterations 20%), 20% for CLV and
// 10% for the segment × channel counts.
var DefaultSplit = Split{Thresholds: 0.30, Means: 0.10, KMeans: 0.30, CLV: 0.20, Channels: 0.10}

func (s Split) validate() error {
	v := []float64{s.Thresholds, s.Means, s.KMeans, s.CLV, s.Channels}
	sum := 0.0
	for _, f := range v {
		if !(f >= 0) || math.IsInf(f, 0) {
			return fmt.Errorf("split %+v: %w", s, ErrPrivacy)
		}
		sum += f
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("split %+v sums to %v > 1: %w", s, sum, ErrPrivacy)
	}
	return nil
}
