package noise

import (
	"fmt"
	"testing"

	dpnoise "github.com/google/differential-privacy/go/v3/noise"
)

// BenchmarkShare measures one site's noise share for a vector of n values:
// sampler creation (one crypto/rand seed) plus n Skellam samples.
func BenchmarkShare(b *testing.B) {
	for _, n := range []int{4096, 1 << 20} {
		for _, sigma := range []float64{3, 50} {
			b.Run(fmt.Sprintf("n=%d/sigma=%v", n, sigma), func(b *testing.B) {
				p := ShareParams{N: 5, T: 3, Sigma: sigma}
				v := make([]int64, n)
				for b.Loop() {
					s, err := NewShare(p)
					if err != nil {
						b.Fatal(err)
					}
					s.AddTo(v)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sample")
			})
		}
	}
}

// BenchmarkLibraryGaussian is the DP library's integer Gaussian for the same
// vector, for comparison (NOTES: ~13 µs per sample).
func BenchmarkLibraryGaussian(b *testing.B) {
	const n = 4096
	v := make([]int64, n)
	g := dpnoise.Gaussian()
	for b.Loop() {
		for i := range v {
			x, err := g.AddNoiseInt64(v[i], 1, 1, 1, 1e-6)
			if err != nil {
				b.Fatal(err)
			}
			v[i] = x
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sample")
}
