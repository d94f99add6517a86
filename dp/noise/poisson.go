package noise

import (
	"math"
	"math/rand/v2"
)

// poissonThreshold is the mean below which inversion is used.
const poissonThreshold = 10

// poisson draws Poisson(lam) variables from a uniform stream. Constants are
// precomputed once per mean.
type poisson struct {
	lam float64
	// inversion (lam < poissonThreshold)
	expNeg float64
	// PTRS (Hörmann 1993)
	b, a, invAlpha, vr, logLam float64
}

func newPoisson(lam float64) poisson {
	p := poisson{lam: lam}
	if lam < poissonThreshold {
		p.expNeg = math.Exp(-lam)
		return p
	}
	p.b = 0.931 + 2.53*math.Sqrt(lam)
	p.a = -0.059 + 0.02483*p.b
	p.invAlpha = 1.1239 + 1.1328/(p.b-3.4)
	p.vr = 0.9277 - 3.6224/(p.b-2)
	p.logLam = math.Log(lam)
	return p
}

func (p *poisson) sample(r *rand.Rand) int64 {
	switch {
	case p.lam <= 0:
		return 0
	case p.lam < poissonThreshold:
		return p.invert(r)
	default:
		return p.ptrs(r)
	}
}

// invert is sequential-search inversion of the CDF.
func (p *poisson) invert(r *rand.Rand) int64 {
	for {
		u := r.Float64()
		pk := p.expNeg
		s := pk
		var k int64
		for u > s {
			k++
			pk *= p.lam / float64(k)
			s += pk
			if pk == 0 { // u beyond the float64-representable CDF: redraw
				break
			}
		}
		if u <= s {
			return k
		}
	}
}

// ptrs is Hörmann's transformed rejection with squeeze, "PTRS", for lam ≥ 10.
func (p *poisson) ptrs(r *rand.Rand) int64 {
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*p.a/us+p.b)*u + p.lam + 0.43)
		if us >= 0.07 && v <= p.vr {
			return int64(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v*p.invAlpha/(p.a/(us*us)+p.b)) <= -p.lam+k*p.logLam-lg {
			return int64(k)
		}
	}
}
