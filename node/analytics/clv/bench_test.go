package clv

import (
	"math/rand/v2"
	"sync"
	"testing"
)

var benchData = sync.OnceValue(func() []Summary {
	return synthBGNBD(rand.New(rand.NewPCG(11, 12)), 1_000_000, [4]float64{0.243, 4.414, 0.793, 2.426}, 1, 39)
})

// BenchmarkBGNBDLogLik is one federated optimiser step's local work: the
// summed log-likelihood and gradient over 1M customers.
func BenchmarkBGNBDLogLik(b *testing.B) {
	s := benchData()
	p := [4]float64{0.3, 4, 0.8, 2.5}
	b.ResetTimer()
	for b.Loop() {
		BGNBDLogLik(p, s)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(s)), "ns/customer")
}

func BenchmarkFitBGNBD100k(b *testing.B) {
	s := benchData()[:100_000]
	b.ResetTimer()
	for b.Loop() {
		if _, err := FitBGNBD(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitGammaGamma100k(b *testing.B) {
	x, m := synthGG(rand.New(rand.NewPCG(13, 14)), 100_000, 6.25, 3.74, 15.44)
	b.ResetTimer()
	for b.Loop() {
		if _, err := FitGammaGamma(x, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCustomerScoring is the per-customer work of local labelling:
// P(alive), expected purchases over 52 weeks and a 12-month CLV.
func BenchmarkCustomerScoring(b *testing.B) {
	s := benchData()[:1000]
	bg := BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	gg := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		c := s[i%len(s)]
		bg.PAlive(c)
		bg.ExpectedPurchases(52, c)
		CLVSchedule(bg, gg, c, 30, 52, 52.0/12, 0.01)
		i++
	}
}
