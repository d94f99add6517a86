package noise

import (
	"fmt"
	"math"
)

// ShareParams calibrates one site's share of distributed Skellam noise.
type ShareParams struct {
	// N is the number of sites in the round. Required, ≥ 1.
	N int `json:"n"`
	// T is the minimum number of honest, live sites whose shares the released
	// total must contain (the decryption threshold). Required, 1 ≤ T ≤ N.
	T int `json:"t"`
	// Variance is σ², the per-coordinate variance of the total noise (Agarwal
	// et al.'s μ), as calibrated by budget.SkellamVariance. Set exactly one of
	// Variance and Sigma.
	Variance float64 `json:"variance,omitempty"`
	// Sigma is the standard deviation of the total noise; Variance = Sigma².
	Sigma float64 `json:"sigma,omitempty"`
}

// TotalVariance returns σ², the variance any T honest shares add up to.
func (p ShareParams) TotalVariance() float64 {
	if p.Variance > 0 {
		return p.Variance
	}
	return p.Sigma * p.Sigma
}

// ShareVariance returns σ²/T, the variance of one site's share.
func (p ShareParams) ShareVariance() float64 { return p.TotalVariance() / float64(p.T) }

// Validate checks the parameters.
func (p ShareParams) Validate() error {
	if p.N < 1 || p.T < 1 || p.T > p.N {
		return fmt.Errorf("share params N=%d T=%d: need 1 ≤ T ≤ N: %w", p.N, p.T, ErrInvalidParams)
	}
	if (p.Variance > 0) == (p.Sigma > 0) || math.IsNaN(p.Variance) || math.IsNaN(p.Sigma) ||
		p.Variance < 0 || p.Sigma < 0 {
		return fmt.Errorf("share params variance=%v sigma=%v: set exactly one, > 0: %w", p.Variance, p.Sigma, ErrInvalidParams)
	}
	if v := p.ShareVariance(); !(v > 0) || v > maxVariance || math.IsInf(v, 0) {
		return fmt.Errorf("share variance %v out of range: %w", v, ErrInvalidParams)
	}
	return nil
}

// NewShare returns this site's noise sampler for a round: Skellam noise with
// variance σ²/T, so that any T honest shares sum to Skellam noise of variance
// σ² exactly. Use a new sampler for every round.
func NewShare(p ShareParams) (*Skellam, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	s, err := NewSkellam(p.ShareVariance())
	if err != nil {
		return nil, fmt.Errorf("noise share: %w", err)
	}
	return s, nil
}
