package fedtest2

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/strata-fed/strata/dp/budget"
	"github.com/strata-fed/strata/federated/securesum"
)

// varianceAlpha is the false-failure rate of each statistical check in
// TestDPVarianceEndToEnd (two-sided). The test makes 2 checks (variance and
// mean) per round and 2 rounds per case, so a correct implementation fails
// a case with probability at most 4·varianceAlpha (Bonferroni).
const varianceAlpha = 1e-6

// TestDPVarianceEndToEnd: DP on, in-process daemons over real QUIC, raft
// and threshold keys. One round over a vector of many coordinates gives as
// many independent noise samples (every site draws its Skellam share of
// each coordinate independently), so per round the test checks
//
//   - the noise parameters: Skellam, Δ₂ = √n·c, σ² = μ as the ledger's
//     calibration gives it for the round's (ε, δ, Δ₁, Δ₂);
//   - the empirical variance of released − exact against the calibrated
//     variance k·μ/t of k contributions (each a share of variance μ/t): a
//     two-sided chi-square test on Σ d²/(k·μ/t), whose null distribution is
//     χ² with n degrees of freedom (the noise has mean 0 exactly), widened
//     for Skellam's excess kurtosis 1/(k·μ/t) (negligible here);
//   - the empirical mean of released − exact against 0 (normal, two-sided),
//
// each at false-failure rate varianceAlpha. It runs the round with every
// site live and again after N−t sites were stopped (their daemons closed:
// the leader's probes mark them down), when the t remaining shares alone
// must carry variance μ, the guarantee the calibration promises.
func TestDPVarianceEndToEnd(t *testing.T) {
	cases := []struct{ n, t int }{{3, 2}, {5, 3}}
	if testing.Short() {
		cases = cases[:1] // N = 5 also runs without -short
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("N=%d/t=%d", tc.n, tc.t), func(t *testing.T) { dpVariance(t, tc.n, tc.t) })
	}
}

func dpVariance(t *testing.T, n, th int) {
	const (
		length  = 24000 // 12 ciphertexts of the test parameters' 2,047 values
		lo, hi  = -20, 20
		eps     = 2.0
		delta   = 1e-6
		dataset = "visits"
	)
	r := seedRand(t)
	c := newCluster(t, n, false)
	keysInit(t, c, th)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lead := c.waitLeader()
	_, err := lead.d.SetBudget(ctx, dataset, 10, 1e-3)
	must(t, err)

	// The calibration the round must use: Δ₁ = n·c, Δ₂ = √n·c, and the
	// smallest Skellam variance whose zCDP cost the ledger converts to at
	// most (ε, δ).
	cb := float64(max(-lo, hi))
	l1, l2 := length*cb, math.Sqrt(length)*cb
	mu := budget.SkellamVariance(budget.LedgerRho(eps, delta), l1, l2)

	round := func(name string, live []string) {
		t.Helper()
		vs := setStats(t, c, r, dataset, length, lo, hi)
		var set []string
		for s := range vs {
			set = append(set, s)
		}
		if slices.Sort(set); !slices.Equal(set, live) {
			t.Fatalf("%s: statistics set on %v, want %v", name, set, live)
		}
		t0 := time.Now()
		res, err := lead.d.SecureSum(ctx, securesum.Spec{Statistic: dataset, Lo: lo, Hi: hi, Epsilon: eps, Delta: delta})
		if err != nil {
			t.Fatalf("%s: SecureSum: %v", name, err)
		}
		if got := slices.Sorted(slices.Values(res.Contributors)); !slices.Equal(got, live) {
			t.Fatalf("%s: round %s contributors %v, want %v", name, res.RoundID, got, live)
		}
		if len(res.Values) != length {
			t.Fatalf("%s: round %s released %d values, want %d", name, res.RoundID, len(res.Values), length)
		}
		if res.Noise.Mechanism != "skellam" || math.Abs(res.Noise.Sensitivity-l2) > 1e-9*l2 ||
			math.Abs(res.Noise.Sigma*res.Noise.Sigma-mu) > 1e-9*mu {
			t.Fatalf("%s: round %s noise %+v, want skellam, Δ₂ = %v, σ² = %v", name, res.RoundID, res.Noise, l2, mu)
		}
		rd, ok := lead.d.FederationState().Round(res.RoundID)
		if !ok || rd.Threshold != th {
			t.Fatalf("%s: round %s threshold %d, want %d", name, res.RoundID, rd.Threshold, th)
		}
		exact := sumOf(vs, res.Contributors, length)
		// The calibrated variance from the round's own noise parameters:
		// k shares of σ²/t each.
		k := len(res.Contributors)
		want := float64(k) * res.Noise.Sigma * res.Noise.Sigma / float64(th)
		var sum, ss float64
		for i, v := range res.Values {
			d := float64(v - exact[i])
			sum += d
			ss += d * d
		}
		if err := checkVariance(ss, sum, length, want); err != nil {
			t.Errorf("%s: round %s: %v", name, res.RoundID, err)
		}
		t.Logf("%s: round %s, %d contributors, %d decryptors, %v: empirical variance %.1f, calibrated %.1f (ratio %.4f), mean %.3f",
			name, res.RoundID, k, len(res.Decryptors), time.Since(t0).Round(time.Millisecond), ss/length, want, ss/length/want, sum/length)
	}

	var all []string
	for _, nd := range c.nodes {
		all = append(all, nd.site)
	}
	slices.Sort(all)
	round("all sites live", all)

	// Stop N−t followers (their daemons shut down, QUIC connections
	// closed) and wait until the leader's probes mark them down, so the
	// next round's participants are the t live sites.
	var stopped, live []string
	for _, nd := range c.nodes {
		if nd != lead && len(stopped) < n-th {
			c.kill(nd)
			stopped = append(stopped, nd.site)
		} else {
			live = append(live, nd.site)
		}
	}
	slices.Sort(live)
	waitUntil(t, 30*time.Second, fmt.Sprintf("%v marked down", stopped), func() bool {
		for _, s := range stopped {
			if st, ok := lead.d.FederationState().Site(s); !ok || st.Live {
				return false
			}
		}
		return true
	})
	round(fmt.Sprintf("%d of %d sites stopped", n-th, n), live)
}

// checkVariance tests residuals d (given as Σd² = ss and Σd = sum over m
// samples) against independent noise of mean 0 and variance want, each
// check two-sided at false-failure rate varianceAlpha:
//
//   - ss/want against χ²(m), its deviation from m scaled by √(1+κ/2) for the
//     excess kurtosis κ = 1/want of Skellam noise (Var d² = (2+κ)·want²);
//   - sum/m against N(0, want/m).
func checkVariance(ss, sum float64, m int, want float64) error {
	chi := distuv.ChiSquared{K: float64(m)}
	widen := math.Sqrt(1 + 1/(2*want))
	qlo := float64(m) - (float64(m)-chi.Quantile(varianceAlpha/2))*widen
	qhi := float64(m) + (chi.Quantile(1-varianceAlpha/2)-float64(m))*widen
	if stat := ss / want; stat < qlo || stat > qhi {
		return fmt.Errorf("empirical variance %.1f over %d coordinates, calibrated %.1f: ratio %.4f outside [%.4f, %.4f] (χ² test, α = %g)",
			ss/float64(m), m, want, stat/float64(m), qlo/float64(m), qhi/float64(m), varianceAlpha)
	}
	z := distuv.UnitNormal.Quantile(1 - varianceAlpha/2)
	if mean, sd := sum/float64(m), math.Sqrt(want/float64(m)); math.Abs(mean) > z*sd {
		return fmt.Errorf("empirical mean %.2f over %d coordinates, want 0 ± %.2f (%.2f sd, α = %g)", mean, m, z*sd, z, varianceAlpha)
	}
	return nil
}

// TestCheckVariance: the statistical check accepts Skellam noise of the
// stated variance and rejects noise whose variance is 10% off or whose
// mean is shifted, at the sample size and variance of
// TestDPVarianceEndToEnd (seeded, so the outcome is fixed).
func TestCheckVariance(t *testing.T) {
	const m, want = 24000, 40000.0
	r := rand.New(rand.NewPCG(1, 2))
	sample := func(variance, shift float64) (ss, sum float64) {
		p := distuv.Poisson{Lambda: variance / 2, Src: r}
		for range m {
			d := p.Rand() - p.Rand() + shift
			ss += d * d
			sum += d
		}
		return ss, sum
	}
	for _, tc := range []struct {
		name            string
		variance, shift float64
		ok              bool
	}{
		{"calibrated", want, 0, true},
		{"variance 10% low", 0.9 * want, 0, false},
		{"variance 10% high", 1.1 * want, 0, false},
		{"mean shifted by 0.1 sd", want, 0.1 * math.Sqrt(want), false},
	} {
		ss, sum := sample(tc.variance, tc.shift)
		if err := checkVariance(ss, sum, m, want); (err == nil) != tc.ok {
			t.Errorf("%s: checkVariance = %v, want ok = %v", tc.name, err, tc.ok)
		}
	}
}
