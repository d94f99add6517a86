package kmeans

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestLog1pRFM(t *testing.T) {
	x := Log1pRFM([]int64{0, 30, -1}, []int64{1, 4, 2}, []int64{12345, 0, -500})
	want := []float64{
		0, math.Log1p(1), math.Log1p(123.45),
		math.Log1p(30), math.Log1p(4), 0,
		0, math.Log1p(2), 0,
	}
	if !slices.Equal(x, want) {
		t.Errorf("Log1pRFM = %v, want %v", x, want)
	}
	if Log1pRFM([]int64{1}, []int64{1, 2}, []int64{1}) != nil {
		t.Errorf("Log1pRFM(mismatched lengths) != nil")
	}
}

func TestStandardize(t *testing.T) {
	x := []float64{
		1, 5, 10,
		2, 5, 20,
		3, 5, 60,
		6, 5, 30,
	}
	orig := slices.Clone(x)
	mean, std := Standardize(x, 3)
	if !slices.Equal(mean, []float64{3, 5, 30}) {
		t.Errorf("mean = %v, want [3 5 30]", mean)
	}
	// Population std of 1,2,3,6 is sqrt(3.5); of 10,20,60,30 sqrt(350).
	wantStd := []float64{math.Sqrt(3.5), 0, math.Sqrt(350)}
	for u := range 3 {
		if math.Abs(std[u]-wantStd[u]) > 1e-12 {
			t.Errorf("std[%d] = %v, want %v", u, std[u], wantStd[u])
		}
	}
	m2, s2 := moments(x, 3)
	for u := range 3 {
		if math.Abs(m2[u]) > 1e-12 {
			t.Errorf("standardized mean[%d] = %v, want 0", u, m2[u])
		}
		want := 1.0
		if u == 1 {
			want = 0 // constant feature: centred only
		}
		if math.Abs(s2[u]-want) > 1e-12 {
			t.Errorf("standardized std[%d] = %v, want %v", u, s2[u], want)
		}
	}
	// StandardizeWith with the same moments reproduces it exactly.
	if err := StandardizeWith(orig, 3, mean, std); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(orig, x) {
		t.Errorf("StandardizeWith = %v, want %v", orig, x)
	}
	if err := StandardizeWith(orig, 3, mean[:2], std); !errors.Is(err, ErrDim) {
		t.Errorf("StandardizeWith(short mean) err = %v, want ErrDim", err)
	}
	bad := []float64{1, 2, 3}
	if m, s := Standardize(bad, 2); m != nil || s != nil || !slices.Equal(bad, []float64{1, 2, 3}) {
		t.Errorf("Standardize(bad dim) = %v %v and changed input to %v", m, s, bad)
	}
}

func TestProfiles(t *testing.T) {
	labels := []int{0, 1, 0, 2, 0}
	rec := []int64{10, 100, 20, 5, 30}
	freq := []int64{5, 1, 3, 1, 1}
	mon := []int64{50000, 1000, 30000, -1000, 20000}
	p := Profiles(labels, 4, rec, freq, mon)
	if len(p) != 4 {
		t.Fatalf("len = %d, want 4", len(p))
	}
	total := int64(50000 + 1000 + 30000 - 1000 + 20000)
	want0 := Profile{Cluster: 0, Size: 3, Share: 0.6, RecencyDays: 20, Frequency: 3,
		MonetaryCents: 100000.0 / 3, RevenueCents: 100000, RevenueShare: 100000 / float64(total)}
	if p[0] != want0 {
		t.Errorf("profile 0 = %+v, want %+v", p[0], want0)
	}
	if p[2].RevenueCents != -1000 || p[2].Size != 1 || p[2].RecencyDays != 5 {
		t.Errorf("profile 2 = %+v", p[2])
	}
	if p[3] != (Profile{Cluster: 3}) {
		t.Errorf("empty profile = %+v, want zero with Cluster 3", p[3])
	}
	share := 0.0
	size := 0
	for _, q := range p {
		share += q.RevenueShare
		size += q.Size
	}
	if math.Abs(share-1) > 1e-12 || size != len(labels) {
		t.Errorf("shares add to %v, sizes to %d; want 1, %d", share, size, len(labels))
	}
	if Profiles([]int{0, 5}, 2, rec[:2], freq[:2], mon[:2]) != nil {
		t.Errorf("Profiles(label out of range) != nil")
	}
	if Profiles(labels, 4, rec[:2], freq, mon) != nil {
		t.Errorf("Profiles(mismatched lengths) != nil")
	}
}
