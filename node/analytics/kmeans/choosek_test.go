package kmeans

import (
	"math"
	"testing"
)

func TestSilhouetteByHand(t *testing.T) {
	// Cluster 0 at 0 and 1, cluster 1 at 10 and 11 (dim 1).
	x := []float64{0, 1, 10, 11}
	labels := []int{0, 0, 1, 1}
	// Point 0: a = 1, b = (10+11)/2; point 1: a = 1, b = (9+10)/2; symmetric.
	s0 := (10.5 - 1) / 10.5
	s1 := (9.5 - 1) / 9.5
	want := (2*s0 + 2*s1) / 4
	if got := Silhouette(x, 1, labels, 2, 0, 1); math.Abs(got-want) > 1e-15 {
		t.Errorf("Silhouette = %v, want %v", got, want)
	}
	// A singleton cluster contributes 0.
	labels3 := []int{0, 0, 1, 2}
	// Point 0: a=1, b=min(10, 11)=10; point 1: a=1, b=9.
	want3 := ((10.0-1)/10 + (9.0-1)/9) / 4
	if got := Silhouette(x, 1, labels3, 3, 0, 1); math.Abs(got-want3) > 1e-15 {
		t.Errorf("Silhouette with singletons = %v, want %v", got, want3)
	}
	if got := Silhouette(x, 1, []int{0, 0, 0, 0}, 2, 0, 1); got != 0 {
		t.Errorf("Silhouette(one cluster) = %v, want 0", got)
	}
	for name, got := range map[string]float64{
		"label out of range": Silhouette(x, 1, []int{0, 0, 1, 2}, 2, 0, 1),
		"labels too short":   Silhouette(x, 1, labels[:3], 2, 0, 1),
		"bad dim":            Silhouette(x, 3, labels, 2, 0, 1),
	} {
		if !math.IsNaN(got) {
			t.Errorf("%s: Silhouette = %v, want NaN", name, got)
		}
	}
}

func TestSilhouetteSampled(t *testing.T) {
	centres := [][]float64{{0, 0, 0}, {6, 0, 0}, {0, 6, 0}}
	x, truth := blobs(3, centres, 600, 1)
	full := Silhouette(x, 3, truth, 3, 0, 1)
	if full < 0.5 || full > 1 {
		t.Fatalf("full silhouette of separated blobs = %v, want in (0.5, 1]", full)
	}
	a := Silhouette(x, 3, truth, 3, 500, 42)
	b := Silhouette(x, 3, truth, 3, 500, 42)
	c := Silhouette(x, 3, truth, 3, 500, 43)
	if a != b {
		t.Errorf("same seed gave %v and %v", a, b)
	}
	if a == c {
		t.Errorf("seeds 42 and 43 gave the same sample value %v", a)
	}
	if math.Abs(a-full) > 0.05 {
		t.Errorf("sampled %v far from full %v", a, full)
	}
	if got := Silhouette(x, 3, truth, 3, len(truth), 42); got != full {
		t.Errorf("sample = n gave %v, want full %v", got, full)
	}
	// Shuffled labels: near 0 or below.
	shuffled := make([]int, len(truth))
	for i := range shuffled {
		shuffled[i] = (i * 7 / 3) % 3
	}
	if s := Silhouette(x, 3, shuffled, 3, 0, 1); s > 0.05 {
		t.Errorf("silhouette of arbitrary labels = %v, want <= 0.05", s)
	}
	idx := sampleIndices(100, 40, 5)
	for i := 1; i < len(idx); i++ {
		if idx[i] <= idx[i-1] || idx[i] >= 100 {
			t.Fatalf("sampleIndices not sorted, distinct and in range: %v", idx)
		}
	}
	if len(idx) != 40 {
		t.Errorf("sampleIndices returned %d indices, want 40", len(idx))
	}
}

func TestScanAndElbow(t *testing.T) {
	centres := [][]float64{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}}
	x, _ := blobs(11, centres, 300, 1)
	ks := []int{1, 2, 3, 4, 5, 6, 7}
	scores, err := Scan(x, 3, ks, Options{Seed: 1, Restarts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != len(ks) {
		t.Fatalf("%d scores, want %d", len(scores), len(ks))
	}
	bestSil, bestK := math.Inf(-1), 0
	for i, s := range scores {
		if s.K != ks[i] {
			t.Errorf("score %d has K %d, want %d", i, s.K, ks[i])
		}
		if i > 0 && s.Inertia > scores[i-1].Inertia {
			t.Errorf("inertia rose from k=%d to k=%d: %v -> %v", ks[i-1], s.K, scores[i-1].Inertia, s.Inertia)
		}
		if s.K > 1 && s.Silhouette > bestSil {
			bestSil, bestK = s.Silhouette, s.K
		}
	}
	if bestK != 4 {
		t.Errorf("best silhouette at k=%d, want 4 (scores %+v)", bestK, scores)
	}
	if got := Elbow(scores); got != 4 {
		t.Errorf("Elbow = %d, want 4 (scores %+v)", got, scores)
	}
	if _, err := Scan(x, 3, []int{2, 0}, Options{}); err == nil {
		t.Errorf("Scan with k=0 succeeded")
	}
	if Elbow(nil) != 0 || Elbow(scores[:2]) != 1 {
		t.Errorf("Elbow of short lists: %d %d, want 0 1", Elbow(nil), Elbow(scores[:2]))
	}
}
