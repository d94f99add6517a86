package kmeans

import (
	"fmt"
	"sync"
	"testing"
)

var benchData = struct {
	sync.Mutex
	m map[int][]float64
}{m: map[int][]float64{}}

// benchPoints returns n standardized synthetic RFM rows, cached across benchmarks.
func benchPoints(n int) []float64 {
	benchData.Lock()
	defer benchData.Unlock()
	if x, ok := benchData.m[n]; ok {
		return x
	}
	x := syntheticRFM(n, 42)
	benchData.m[n] = x
	return x
}

func benchFit(b *testing.B, n int) {
	x := benchPoints(n)
	b.ReportAllocs()
	b.ResetTimer()
	iters := 0
	for b.Loop() {
		m, _, err := Fit(x, 3, Options{K: 8, Seed: 42})
		if err != nil {
			b.Fatal(err)
		}
		iters = m.Iterations
	}
	b.ReportMetric(float64(iters), "lloyd-iters")
}

func BenchmarkFit100k(b *testing.B) { benchFit(b, 100_000) }
func BenchmarkFit1M(b *testing.B)   { benchFit(b, 1_000_000) }

func BenchmarkAccumulate1M(b *testing.B) {
	x := benchPoints(1_000_000)
	init, err := InitPlusPlus(x, 3, 8, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(x) * 8))
	for b.Loop() {
		Accumulate(x, 3, init)
	}
}

// BenchmarkLloydIteration1M is one assignment+update step inside Fit: it
// must not allocate.
func BenchmarkLloydIteration1M(b *testing.B) {
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchLloydIteration(b, w) })
	}
}

func benchLloydIteration(b *testing.B, workers int) {
	x := benchPoints(1_000_000)
	e := newEngine(x, 3, 8, workers, true)
	defer e.close()
	e.seedPlusPlus(newRand(1))
	b.ReportAllocs()
	for b.Loop() {
		e.assign()
		e.update()
	}
}

func BenchmarkSilhouette10k(b *testing.B) {
	x := benchPoints(100_000)
	_, labels, err := Fit(x, 3, Options{K: 8, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Silhouette(x, 3, labels, 8, DefaultSilhouetteSample, 1)
	}
}
