package noise

import (
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
)

// maxVariance bounds the variance a Skellam sampler accepts, far beyond any
// calibrated noise, so samples stay well inside int64.
const maxVariance = 1 << 52

// Skellam draws symmetric Skellam noise P₁ − P₂, P₁ and P₂ independent
// Poisson(variance/2). Not safe for concurrent use.
type Skellam struct {
	variance float64
	p        poisson
	r        *mrand.Rand
}

// NewSkellam returns a sampler of symmetric Skellam noise with the given
// variance (> 0), seeded with 32 bytes from crypto/rand.
func NewSkellam(variance float64) (*Skellam, error) {
	if !(variance > 0) || variance > maxVariance {
		return nil, fmt.Errorf("skellam variance %v: %w", variance, ErrInvalidParams)
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("seed skellam sampler: %w", err)
	}
	return newSkellamSeeded(variance, seed), nil
}

func newSkellamSeeded(variance float64, seed [32]byte) *Skellam {
	return &Skellam{
		variance: variance,
		p:        newPoisson(variance / 2),
		r:        mrand.New(mrand.NewChaCha8(seed)),
	}
}

// Variance returns the variance of one sample.
func (s *Skellam) Variance() float64 { return s.variance }

// StdDev returns the standard deviation of one sample.
func (s *Skellam) StdDev() float64 { return math.Sqrt(s.variance) }

// Sample returns one Skellam sample.
func (s *Skellam) Sample() int64 {
	return s.p.sample(s.r) - s.p.sample(s.r)
}

// AddTo adds an independent sample to every element of v, in place.
func (s *Skellam) AddTo(v []int64) {
	for i := range v {
		v[i] += s.p.sample(s.r) - s.p.sample(s.r)
	}
}

// Vector returns n independent samples.
func (s *Skellam) Vector(n int) []int64 {
	v := make([]int64, n)
	s.AddTo(v)
	return v
}
