package noise

import (
	"fmt"
	"math/bits"
)

// ClampInt64 returns v limited to [lo, hi]. If lo > hi it returns an error.
func ClampInt64(v, lo, hi int64) (int64, error) {
	if lo > hi {
		return 0, fmt.Errorf("clamp to [%d, %d]: %w", lo, hi, ErrInvalidParams)
	}
	return min(max(v, lo), hi), nil
}

// ClampLInf limits every element of v to [−bound, bound], in place, so one
// user's vector has L∞ norm at most bound (then L1 ≤ d·bound and
// L2 ≤ √d·bound for d = len(v)). bound must be ≥ 0.
func ClampLInf(v []int64, bound int64) error {
	if bound < 0 {
		return fmt.Errorf("L∞ clamp to %d: %w", bound, ErrInvalidParams)
	}
	for i, x := range v {
		v[i] = min(max(x, -bound), bound)
	}
	return nil
}

// ClampL1 scales v in place, if its L1 norm exceeds bound, so that
// Σ|v_i| ≤ bound: each element becomes trunc(v_i·bound/‖v‖₁) (toward zero, in
// exact 128-bit integer arithmetic). Then one user's vector has L1 ≤ bound and
// L2 ≤ bound. bound must be ≥ 0.
func ClampL1(v []int64, bound int64) error {
	if bound < 0 {
		return fmt.Errorf("L1 clamp to %d: %w", bound, ErrInvalidParams)
	}
	// ‖v‖₁ as a 128-bit (hi, lo) sum, since it can exceed int64.
	var hi, lo uint64
	for _, x := range v {
		var c uint64
		lo, c = bits.Add64(lo, absU64(x), 0)
		hi += c
	}
	if hi == 0 && lo <= uint64(bound) {
		return nil
	}
	for i, x := range v {
		// |x|·bound / ‖v‖₁ < bound, so the quotient fits; |x|·bound < 2^127.
		ph, pl := bits.Mul64(absU64(x), uint64(bound))
		q := div128(ph, pl, hi, lo)
		if x < 0 {
			v[i] = -int64(q)
		} else {
			v[i] = int64(q)
		}
	}
	return nil
}

func absU64(x int64) uint64 {
	if x < 0 {
		return uint64(-(x + 1)) + 1 // also right for MinInt64
	}
	return uint64(x)
}

// div128 returns floor((nh·2^64 + nl) / (dh·2^64 + dl)) for a quotient known to
// fit in 64 bits and a non-zero divisor.
func div128(nh, nl, dh, dl uint64) uint64 {
	if dh == 0 {
		if nh >= dl { // cannot happen when the quotient fits; be safe.
			return ^uint64(0)
		}
		q, _ := bits.Div64(nh, nl, dl)
		return q
	}
	// Divisor ≥ 2^64 and numerator < 2^127: quotient < 2^63. Binary long division.
	var q uint64
	rh, rl := uint64(0), uint64(0)
	for i := 127; i >= 0; i-- {
		// r = r<<1 | bit i of n
		rh = rh<<1 | rl>>63
		rl <<= 1
		var b uint64
		if i >= 64 {
			b = nh >> (i - 64) & 1
		} else {
			b = nl >> i & 1
		}
		rl |= b
		if rh > dh || (rh == dh && rl >= dl) {
			var borrow uint64
			rl, borrow = bits.Sub64(rl, dl, 0)
			rh, _ = bits.Sub64(rh, dh, borrow)
			if i < 64 {
				q |= 1 << i
			}
		}
	}
	return q
}
