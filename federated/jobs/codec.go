package jobs

import (
	"fmt"
	"math"
	"math/big"
)

// Codec is the public fixed-point encoding of per-user real values into the
// integer coordinates a secure sum adds. It has two modes.
//
// Exact (DP off): each value v, clamped to ±Bounds[i], becomes the integer
// q = round(v·2^Frac) and is split into three limbs base 2^21 (two in
// [0, 2^21), the top one signed, |top| ≤ 2^20 for |q| ≤ 2^62). Sums of limbs
// over up to 2^36 users stay below 2^57, inside the HE plaintext modulus, and
// the decoded total Σq/2^Frac is exact up to the per-user rounding of at most
// 2^−(Frac+1). A last coordinate counts clamped or non-finite values, so a
// job can tell that the exact sum was not exact.
//
// Balanced (DP on): value i becomes round(clamp(v, ±b_i)/b_i · Scale), one
// coordinate per value, so every coordinate has the same per-user bound
// Scale and Skellam noise of one variance hurts every value in proportion to
// its bound. The rounding error per user is b_i/(2·Scale).
type Codec struct {
	Exact  bool      `json:"exact"`
	Frac   int       `json:"frac"`
	Scale  int64     `json:"scale,omitempty"`
	Bounds []float64 `json:"bounds"`
}

const (
	limbBits  = 21
	limbCount = 3
	limbMask  = 1<<limbBits - 1
	// maxExactBits bounds |q| = |v|·2^Frac in exact mode.
	maxExactBits = 62
	// DefaultScale is the balanced scale with DP on.
	DefaultScale = 1 << 16
)

func exactCodec(frac int, bounds ...float64) Codec {
	return Codec{Exact: true, Frac: frac, Bounds: bounds}
}

func balancedCodec(bounds ...float64) Codec {
	return Codec{Scale: DefaultScale, Bounds: bounds}
}

func (c Codec) validate() error {
	if len(c.Bounds) == 0 || len(c.Bounds) > 1<<16 {
		return fmt.Errorf("codec with %d values: %w", len(c.Bounds), ErrParams)
	}
	if c.Exact {
		if c.Frac < 0 || c.Frac > 40 {
			return fmt.Errorf("codec frac %d: %w", c.Frac, ErrParams)
		}
	} else if c.Scale < 1 || c.Scale > 1<<30 {
		return fmt.Errorf("codec scale %d: %w", c.Scale, ErrParams)
	}
	for _, b := range c.Bounds {
		if !(b > 0) || math.IsInf(b, 0) || (c.Exact && b*math.Ldexp(1, c.Frac) > math.Ldexp(1, maxExactBits)) {
			return fmt.Errorf("codec bound %v (frac %d): %w", b, c.Frac, ErrParams)
		}
	}
	return nil
}

// Width is the number of coordinates of one encoded record of all values.
func (c Codec) Width() int {
	if c.Exact {
		return limbCount*len(c.Bounds) + 1
	}
	return len(c.Bounds)
}

// UserBound is the largest |coordinate| one user adds (the Query clamp).
func (c Codec) UserBound() int64 {
	if c.Exact {
		return 1 << limbBits
	}
	return c.Scale
}

// add adds one user's value i into dst (a record of Width coordinates).
func (c Codec) add(dst []int64, i int, v float64) {
	b := c.Bounds[i]
	if c.Exact {
		clamped := false
		if math.IsNaN(v) {
			v, clamped = 0, true
		} else if v > b {
			v, clamped = b, true
		} else if v < -b {
			v, clamped = -b, true
		}
		if clamped {
			dst[len(dst)-1]++
		}
		q := int64(math.Round(math.Ldexp(v, c.Frac)))
		dst[limbCount*i] += q & limbMask
		dst[limbCount*i+1] += (q >> limbBits) & limbMask
		dst[limbCount*i+2] += q >> (2 * limbBits)
		return
	}
	if math.IsNaN(v) {
		v = 0
	}
	v = math.Max(-b, math.Min(b, v))
	dst[i] += int64(math.Round(v / b * float64(c.Scale)))
}

// decode turns a summed record into per-value totals and the number of
// clamped values (always 0 in balanced mode).
func (c Codec) decode(src []int64) ([]float64, int64) {
	out := make([]float64, len(c.Bounds))
	if !c.Exact {
		for i, b := range c.Bounds {
			out[i] = float64(src[i]) * b / float64(c.Scale)
		}
		return out, 0
	}
	var t, x big.Int
	for i := range c.Bounds {
		t.SetInt64(src[limbCount*i+2])
		t.Lsh(&t, limbBits)
		t.Add(&t, x.SetInt64(src[limbCount*i+1]))
		t.Lsh(&t, limbBits)
		t.Add(&t, x.SetInt64(src[limbCount*i]))
		f, _ := new(big.Float).SetPrec(200).SetInt(&t).Float64()
		out[i] = math.Ldexp(f, -c.Frac)
	}
	return out, src[len(src)-1]
}

// sensitivity of a query where each user adds to `touched` coordinates of
// at most UserBound each (exact mode: irrelevant, DP is off).
func (c Codec) sensitivity(touched int) (l1, l2 float64) {
	u := float64(c.UserBound())
	return float64(touched) * u, math.Sqrt(float64(touched)) * u
}
