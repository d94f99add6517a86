package noise

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestClampInt64(t *testing.T) {
	for _, c := range []struct{ v, lo, hi, want int64 }{
		{5, 0, 10, 5}, {-3, 0, 10, 0}, {11, 0, 10, 10}, {math.MinInt64, -1, 1, -1}, {math.MaxInt64, -1, 1, 1}, {7, 7, 7, 7},
	} {
		got, err := ClampInt64(c.v, c.lo, c.hi)
		if err != nil || got != c.want {
			t.Errorf("ClampInt64(%d, %d, %d) = %d, %v, want %d", c.v, c.lo, c.hi, got, err, c.want)
		}
	}
	if _, err := ClampInt64(1, 2, 1); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("ClampInt64 with lo > hi = %v, want ErrInvalidParams", err)
	}
}

func TestClampLInf(t *testing.T) {
	v := []int64{-100, -3, 0, 3, 100, math.MinInt64, math.MaxInt64}
	if err := ClampLInf(v, 5); err != nil {
		t.Fatal(err)
	}
	want := []int64{-5, -3, 0, 3, 5, -5, 5}
	for i := range v {
		if v[i] != want[i] {
			t.Errorf("ClampLInf: v[%d] = %d, want %d", i, v[i], want[i])
		}
	}
	if err := ClampLInf(v, -1); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("ClampLInf(-1) = %v, want ErrInvalidParams", err)
	}
}

func l1(v []int64) float64 {
	s := 0.0
	for _, x := range v {
		s += math.Abs(float64(x))
	}
	return s
}

func TestClampL1(t *testing.T) {
	v := []int64{3, -4, 5}
	if err := ClampL1(v, 100); err != nil || v[0] != 3 || v[1] != -4 || v[2] != 5 {
		t.Errorf("ClampL1 within bound changed v to %v (%v)", v, err)
	}
	// ‖v‖₁ = 12 > 6: each element halves.
	if err := ClampL1(v, 6); err != nil || v[0] != 1 || v[1] != -2 || v[2] != 2 {
		t.Errorf("ClampL1(6) = %v, %v, want [1 -2 2]", v, err)
	}
	// Norms beyond int64 use 128-bit arithmetic.
	huge := []int64{math.MaxInt64, math.MinInt64, math.MaxInt64, 1}
	if err := ClampL1(huge, 1000); err != nil {
		t.Fatal(err)
	}
	if l1(huge) > 1000 || huge[0] != 333 || huge[1] != -333 || huge[3] != 0 {
		t.Errorf("ClampL1 of huge values = %v", huge)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + rng.IntN(20)
		v := make([]int64, n)
		orig := make([]int64, n)
		for i := range v {
			v[i] = rng.Int64() >> rng.IntN(63)
			if rng.IntN(2) == 0 {
				v[i] = -v[i]
			}
			orig[i] = v[i]
		}
		bound := rng.Int64N(1 << 40)
		if err := ClampL1(v, bound); err != nil {
			t.Fatal(err)
		}
		if l1(v) > float64(bound)*(1+1e-12) {
			t.Fatalf("ClampL1(%v, %d) = %v with L1 %v", orig, bound, v, l1(v))
		}
		for i := range v {
			if (v[i] > 0 && orig[i] < 0) || (v[i] < 0 && orig[i] > 0) || math.Abs(float64(v[i])) > math.Abs(float64(orig[i])) {
				t.Fatalf("ClampL1 changed sign or grew: %d -> %d", orig[i], v[i])
			}
		}
	}
	if err := ClampL1(v, -1); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("ClampL1(-1) = %v, want ErrInvalidParams", err)
	}
}
