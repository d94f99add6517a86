package synth

import (
	"testing"
)

// BenchmarkWriteFiles writes the three files for a population of 200k users
// (≈ 1.3M rows). rows/s is the rate over the three files together.
func BenchmarkWriteFiles(b *testing.B) {
	dir := b.TempDir()
	var rows int64
	for b.Loop() {
		_, tr, err := WriteSites(Config{Users: 200_000, Seed: 1}, dir)
		if err != nil {
			b.Fatal(err)
		}
		rows = 0
		for _, s := range tr.Sites {
			rows += s.Orders
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkGenerate streams the rows without formatting or writing them.
func BenchmarkGenerate(b *testing.B) {
	var rows int64
	for b.Loop() {
		rows = 0
		_, err := Generate(Config{Users: 200_000, Seed: 1}, func(string, Row) error { rows++; return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPopulation draws the shared population of 1M users.
func BenchmarkPopulation(b *testing.B) {
	cfg, err := Config{Users: 1_000_000, Seed: 1}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := newPopulation(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
