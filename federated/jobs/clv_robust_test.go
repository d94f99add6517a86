package jobs

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
)

// flatColumns generates n users whose likelihood maxima lie far out: every
// user drops out after each purchase with the same probability 0.15 (the
// BG/NBD maximum is at a, b → ∞) and spends one log-normal amount on every
// repeat purchase (the Gamma-Gamma maximum is at p → ∞). On such data,
// split over sites of a few hundred users, the exact fit failed about every
// other time ("linesearch: failed to converge") while sites sent natural-
// parameter gradients: their rounding, scaled by the parameter, drowned the
// fit as it moved out.
func flatColumns(rng *rand.Rand, n int) segmodel.Columns {
	var c segmodel.Columns
	for range n {
		T := 10 + 70*rng.Float64()
		lambda := 0.05 + rng.ExpFloat64()*0.3
		x, tx := 0, 0.0
		for t := rng.ExpFloat64() / lambda; t <= T; t += rng.ExpFloat64() / lambda {
			x, tx = x+1, t
			if rng.Float64() < 0.15 {
				break
			}
		}
		tenure := int64(T * 7)
		prev := int64(-1)
		if x > 0 {
			prev = tenure
		}
		c.TenureDays = append(c.TenureDays, tenure)
		c.RecencyDays = append(c.RecencyDays, tenure-int64(tx*7))
		c.Frequency = append(c.Frequency, int64(x+1))
		c.PrevDays = append(c.PrevDays, prev)
		c.MonetaryCents = append(c.MonetaryCents, int64(math.Exp(7+rng.NormFloat64())))
		s, mv := clv.Summary{X: float64(x), T: T}, 0.0
		if x > 0 {
			s.Tx, mv = tx, math.Exp(3+0.5*rng.NormFloat64())
		}
		c.CLV = append(c.CLV, s)
		c.MeanValue = append(c.MeanValue, mv)
		c.InCLV = append(c.InCLV, true)
	}
	return c
}

// TestCLVExactManySeeds runs the exact federated CLV fit on many small
// random 3-site splits — 40 to 300 users per site, from flatColumns and
// from the models' own processes (synthColumns) — and requires every fit to
// end, and to be the pooled floating-point fit: its pooled log-likelihood
// no lower than that of clv's fit less 1e-6 per customer (on flat data both
// stop somewhere along a ridge that still rises towards infinity, where the
// θ-gradient is below clv's and polish's acceptance bound, 1e-6), the same P(alive) and expected spend for every customer to 1e-5,
// and, on the models' own data (an interior maximum), the same parameters
// to 1e-5.
func TestCLVExactManySeeds(t *testing.T) {
	seeds := 48
	if testing.Short() {
		seeds = 12
	}
	sizes := []int{40, 100, 300}
	ctx := context.Background()
	worstLL, worstPred := 0.0, 0.0
	rounds := 0
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0xc1f))
		n := 3 * sizes[int(seed)%len(sizes)]
		flat := seed%2 == 0
		var cols segmodel.Columns
		if flat {
			cols = flatColumns(rng, n)
		} else {
			cols = synthColumns(n, seed)
		}
		sites := splitColumns(t, cols, 3, seed, nil)
		s := &MemSummer{Sites: sites}
		res, err := RunCLV(ctx, s, Privacy{}, CLVOptions{})
		if err != nil {
			t.Fatalf("seed %d (%d users, flat %v): %v", seed, n, flat, err)
		}
		rounds += len(s.Log())

		p := pooled(t, sites).Columns()
		var x, m []float64
		for i := range p.CLV {
			if p.CLV[i].X > 0 && p.MeanValue[i] > 0 {
				x, m = append(x, p.CLV[i].X), append(m, p.MeanValue[i])
			}
		}
		// clv's fit may itself stall on flat data: its last point is the
		// reference then.
		pbg, _ := clv.FitBGNBD(p.CLV)
		pgg, _ := clv.FitGammaGamma(x, m)
		bg, gg := res.BGNBD, res.GammaGamma
		llBG, _ := clv.BGNBDLogLik(bg.Params(), p.CLV)
		llGG, _ := clv.GammaGammaLogLik([3]float64{gg.P, gg.Q, gg.Gamma}, x, m)
		refBG, _ := clv.BGNBDLogLik(pbg.Params(), p.CLV)
		refGG, _ := clv.GammaGammaLogLik([3]float64{pgg.P, pgg.Q, pgg.Gamma}, x, m)
		worstLL = max(worstLL, (refBG-llBG)/float64(len(p.CLV)), (refGG-llGG)/float64(len(x)))
		if llBG < refBG-1e-6*float64(len(p.CLV)) || llGG < refGG-1e-6*float64(len(x)) {
			t.Errorf("seed %d (%d users, flat %v): federated log-likelihoods %.9f, %.9f below clv's %.9f, %.9f",
				seed, n, flat, llBG, llGG, refBG, refGG)
		}
		for i, sm := range p.CLV {
			d := math.Abs(bg.PAlive(sm) - pbg.PAlive(sm))
			if sm.X > 0 {
				d = max(d, relDiff(gg.ExpectedValue(sm.X, p.MeanValue[i]), pgg.ExpectedValue(sm.X, p.MeanValue[i])))
			}
			worstPred = max(worstPred, d)
			if d > 1e-5 {
				t.Fatalf("seed %d (%d users, flat %v): customer %d %+v: predictions differ by %g\nfederated %+v %+v\npooled %+v %+v",
					seed, n, flat, i, sm, d, bg, gg, pbg, pgg)
			}
		}
		if !flat {
			for _, c := range [][2]float64{{bg.R, pbg.R}, {bg.Alpha, pbg.Alpha}, {bg.A, pbg.A}, {bg.B, pbg.B}, {gg.P, pgg.P}, {gg.Q, pgg.Q}, {gg.Gamma, pgg.Gamma}} {
				if relDiff(c[0], c[1]) > 1e-5 {
					t.Errorf("seed %d (%d users): federated %v, pooled %v", seed, n, c[0], c[1])
				}
			}
		}
	}
	t.Logf("%d splits: %.1f rounds per fit; worst log-likelihood shortfall %.2g per customer, worst prediction difference %.2g",
		seeds, float64(rounds)/float64(seeds), worstLL, worstPred)
}
