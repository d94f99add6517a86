package ingest

import (
	"math"
	"math/big"
	"math/bits"
)

// Money is held in integer cents (1/100 of the currency unit). Amounts are
// parsed exactly from decimal text, never through binary floating point:
//
//   - a single amount column is read as a decimal; with more than two
//     fractional digits it is rounded half away from zero to cents;
//   - quantity × unit price is computed exactly on the scaled decimals
//     (up to 18 significant digits each, product in 128 bits) and rounded
//     half away from zero to cents once per line.
//
// Exponent notation ("1e3") is not accepted.

// decimal is mant × 10^-scale.
type decimal struct {
	mant  int64
	scale uint8
}

const maxDigits = 18 // fits int64

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18, 1e19}

// parseDecimal parses [+-]digits[.digits]. The reason is empty on success.
func parseDecimal(b []byte) (decimal, string) {
	if len(b) == 0 {
		return decimal{}, "empty"
	}
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	var v uint64
	nd, scale := 0, 0
	seenDot, any := false, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			any = true
			if v == 0 && c == '0' {
				// leading zeros do not count as significant digits
			} else {
				nd++
				if nd > maxDigits {
					return decimal{}, "more than 18 significant digits"
				}
			}
			v = v*10 + uint64(c-'0')
			if seenDot {
				scale++
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return decimal{}, "not a decimal number"
		}
	}
	if !any {
		return decimal{}, "not a decimal number"
	}
	if scale > 36 {
		return decimal{}, "too many fractional digits"
	}
	m := int64(v)
	if neg {
		m = -m
	}
	return decimal{mant: m, scale: uint8(scale)}, ""
}

// cents rounds d to cents, half away from zero.
func (d decimal) cents() (int64, bool) {
	neg := d.mant < 0
	a := uint64(d.mant)
	if neg {
		a = uint64(-d.mant)
	}
	return scaleToCents(0, a, int(d.scale), neg)
}

// mulCents returns round_half_away(q × p) in cents, exactly.
func mulCents(q, p decimal) (int64, bool) {
	neg := (q.mant < 0) != (p.mant < 0)
	aq, ap := absU(q.mant), absU(p.mant)
	hi, lo := bits.Mul64(aq, ap)
	return scaleToCents(hi, lo, int(q.scale)+int(p.scale), neg)
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// scaleToCents converts the 128-bit magnitude (hi, lo) × 10^-scale to
// signed cents, rounding half away from zero.
func scaleToCents(hi, lo uint64, scale int, neg bool) (int64, bool) {
	var mag uint64
	switch {
	case scale <= 2:
		if hi != 0 {
			return 0, false
		}
		m := pow10[2-scale]
		h, l := bits.Mul64(lo, m)
		if h != 0 {
			return 0, false
		}
		mag = l
	case scale-2 <= 19 && hi < pow10[scale-2]:
		div := pow10[scale-2]
		q, r := bits.Div64(hi, lo, div)
		if r >= div-r { // 2r >= div without overflow
			q++
		}
		mag = q
	default:
		return bigCents(hi, lo, scale, neg)
	}
	if mag > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(mag), true
	}
	return int64(mag), true
}

// bigCents is the slow path for very large scales.
func bigCents(hi, lo uint64, scale int, neg bool) (int64, bool) {
	n := new(big.Int).SetUint64(hi)
	n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(lo))
	div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-2)), nil)
	q, r := new(big.Int).QuoRem(n, div, new(big.Int))
	if r.Lsh(r, 1).Cmp(div) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, false
	}
	v := q.Int64()
	if neg {
		v = -v
	}
	return v, true
}

// parseUint parses a canonical unsigned decimal integer (no sign, no
// leading zeros unless "0", at most 19 digits, < 2^63).
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return v, true
}
