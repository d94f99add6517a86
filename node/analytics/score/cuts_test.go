package score

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCutsScore(t *testing.T) {
	freq := Cuts{Points: []int64{2, 3, 5, 10}}
	rec := Cuts{Points: []int64{30, 90, 180, 365}, LowerIsBetter: true}
	tests := []struct {
		c    Cuts
		v    int64
		want uint8
	}{
		{freq, -1, 1}, {freq, 1, 1}, {freq, 2, 2}, {freq, 3, 3}, {freq, 4, 3},
		{freq, 5, 4}, {freq, 9, 4}, {freq, 10, 5}, {freq, 1 << 40, 5},
		{rec, 0, 5}, {rec, 29, 5}, {rec, 30, 4}, {rec, 89, 4}, {rec, 90, 3},
		{rec, 179, 3}, {rec, 180, 2}, {rec, 364, 2}, {rec, 365, 1}, {rec, 5000, 1},
		{Cuts{}, 42, 1},
		{Cuts{LowerIsBetter: true}, 42, 1},
		// equal points: score 3 is never given
		{Cuts{Points: []int64{10, 20, 20, 30}}, 19, 2},
		{Cuts{Points: []int64{10, 20, 20, 30}}, 20, 4},
	}
	for _, tt := range tests {
		if got := tt.c.Score(tt.v); got != tt.want {
			t.Errorf("%+v.Score(%d) = %d, want %d", tt.c, tt.v, got, tt.want)
		}
	}
	if got, want := rec.ScoreAll([]int64{1, 100, 400}), []uint8{5, 3, 1}; !slices.Equal(got, want) {
		t.Errorf("ScoreAll = %v, want %v", got, want)
	}
}

func TestCutsValidate(t *testing.T) {
	good := []Cuts{{}, {Points: []int64{1}}, {Points: []int64{1, 1, 2}}, {Points: make([]int64, MaxBuckets-1)}}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%d points) = %v, want nil", len(c.Points), err)
		}
	}
	bad := []Cuts{{Points: []int64{3, 2}}, {Points: []int64{1, 5, 4, 6}}, {Points: make([]int64, MaxBuckets)}}
	for _, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrCuts) {
			t.Errorf("Validate(%v) = %v, want ErrCuts", c.Points[:min(len(c.Points), 5)], err)
		}
	}
	// Score saturates instead of wrapping around
	if got := (Cuts{Points: make([]int64, 300)}).Score(0); got != MaxBuckets {
		t.Errorf("Score with 300 points = %d, want %d", got, MaxBuckets)
	}
}

// unitHistogram returns one bin per distinct value.
func unitHistogram(values []int64) (edges, counts []int64) {
	s := slices.Clone(values)
	slices.Sort(s)
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			edges = append(edges, v)
			counts = append(counts, 0)
		}
		counts[len(counts)-1]++
	}
	return append(edges, s[len(s)-1]+1), counts
}

func TestQuantileCutsDocExample(t *testing.T) {
	edges, counts := unitHistogram([]int64{1, 1, 1, 1, 2, 2, 3, 5, 8, 13})
	if want := []int64{1, 2, 3, 5, 8, 13, 14}; !slices.Equal(edges, want) {
		t.Fatalf("edges = %v, want %v", edges, want)
	}
	got, err := QuantileCuts(edges, counts, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2, 3, 8}; !slices.Equal(got, want) {
		t.Errorf("QuantileCuts = %v, want %v", got, want)
	}
}

// With distinct values, threshold scores from the histogram are NTile's.
func TestQuantileCutsDistinctEqualsNTile(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 4, 5, 7, 100, 2003} {
		perm := rng.Perm(n * 3)[:n]
		keys := make([]int64, n)
		for i, p := range perm {
			keys[i] = int64(p) - 50
		}
		edges, counts := unitHistogram(keys)
		for _, buckets := range []int{1, 3, 5} {
			cuts, err := QuantileCuts(edges, counts, buckets)
			if err != nil {
				t.Fatal(err)
			}
			if len(cuts) != buckets-1 {
				t.Fatalf("n=%d: %d cuts, want %d", n, len(cuts), buckets-1)
			}
			want := NTile(keys, false, buckets)
			got := Cuts{Points: cuts}.ScoreAll(keys)
			if !slices.Equal(got, want) {
				t.Errorf("n=%d buckets=%d: threshold scores differ from NTile (cuts %v)", n, buckets, cuts)
			}
		}
	}
}

// With ties, the scores differ from NTile only at boundaries, by exactly
// |below(cut) − P_j| values per boundary, and no other edge does better.
func TestQuantileCutsTiesMinimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	keys := make([]int64, 2003)
	for i := range keys {
		keys[i] = freqLike(rng)
	}
	edges, counts := unitHistogram(keys)
	cuts, err := QuantileCuts(edges, counts, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Cuts{Points: cuts}).Validate(); err != nil {
		t.Fatalf("cuts %v: %v", cuts, err)
	}
	below := func(e int64) int64 {
		var c int64
		for _, k := range keys {
			if k < e {
				c++
			}
		}
		return c
	}
	n := int64(len(keys))
	nt := NTile(keys, false, 5)
	th := Cuts{Points: cuts}.ScoreAll(keys)
	for j := int64(1); j < 5; j++ {
		p := j*(n/5) + min(j, n%5)
		dist := abs(below(cuts[j-1]) - p)
		for _, e := range edges {
			if d := abs(below(e) - p); d < dist {
				t.Errorf("cut %d = %d is %d values from the boundary, edge %d is %d", j, cuts[j-1], dist, e, d)
			}
		}
		// values on different sides of boundary j under the two rules
		var moved int64
		for i := range keys {
			if (nt[i] > uint8(j)) != (th[i] > uint8(j)) {
				moved++
			}
		}
		if moved != dist {
			t.Errorf("boundary %d: %d values moved, want |below − P| = %d", j, moved, dist)
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestQuantileCutsConstant(t *testing.T) {
	cuts, err := QuantileCuts([]int64{5, 6}, []int64{10}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := (Cuts{Points: cuts}).Score(5); got != 3 {
		t.Errorf("constant data scores %d (cuts %v), want the middle score 3", got, cuts)
	}
}

func TestQuantileCutsErrors(t *testing.T) {
	tests := []struct {
		name          string
		edges, counts []int64
		buckets       int
		want          error
	}{
		{"zero buckets", []int64{0, 1}, []int64{1}, 0, ErrBuckets},
		{"too many buckets", []int64{0, 1}, []int64{1}, 256, ErrBuckets},
		{"no bins", []int64{0}, nil, 5, ErrHistogram},
		{"lengths", []int64{0, 1}, []int64{1, 2}, 5, ErrHistogram},
		{"unsorted edges", []int64{0, 2, 1}, []int64{1, 1}, 5, ErrHistogram},
		{"equal edges", []int64{0, 1, 1}, []int64{1, 1}, 5, ErrHistogram},
		{"negative count", []int64{0, 1, 2}, []int64{3, -1}, 5, ErrHistogram},
		{"empty", []int64{0, 1, 2}, []int64{0, 0}, 5, ErrHistogram},
		{"overflow", []int64{0, 1, 2}, []int64{1 << 62, 1<<63 - 1}, 5, ErrHistogram},
	}
	for _, tt := range tests {
		if _, err := QuantileCuts(tt.edges, tt.counts, tt.buckets); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
