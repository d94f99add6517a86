package fedjobs

import (
	"context"
	"testing"
)

// BenchmarkProviderHist is a site's work for the thresholds round: the
// rfm.hist vector of 10,000 users through the Provider.
func BenchmarkProviderHist(b *testing.B) {
	d, err := newBenchData(10_000)
	if err != nil {
		b.Fatal(err)
	}
	p := &Provider{Data: d}
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.Statistic(ctx, "rfm.hist", []byte(`{"v":1}`)); err != nil {
			b.Fatal(err)
		}
	}
}
