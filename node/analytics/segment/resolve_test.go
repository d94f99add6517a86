package segment

import (
	"math"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		op   op
		ref  float64
		v    int64
		want bool
	}{
		{opHigh, 2.5, 2, false}, {opHigh, 2.5, 3, true}, {opLow, 2.5, 2, true}, {opLow, 2.5, 3, false},
		{opHigh, 3, 3, true}, {opLow, 3, 3, false}, {opHigh, -2.5, -2, true}, {opLow, -2.5, -3, true},
		{opHigh, math.NaN(), 0, false}, {opLow, math.NaN(), 0, false},
		{opHigh, 1 << 63, math.MaxInt64, false}, {opLow, 1 << 63, math.MaxInt64, true},
		{opHigh, -(1 << 63), math.MinInt64, true}, {opLow, -(1 << 63), math.MinInt64, false},
		{opHigh, math.Inf(-1), math.MinInt64, true}, {opLow, math.Inf(1), math.MaxInt64, true},
	}
	for _, tt := range tests {
		c := resolve(condition{field: fieldFrequency, op: tt.op}, tt.ref)
		ev := &eval{}
		ev.v[fieldFrequency] = tt.v
		if got := c.holds(ev); got != tt.want {
			t.Errorf("op %d ref %v v %d: resolved condition holds = %v, want %v", tt.op, tt.ref, tt.v, got, tt.want)
		}
		orig := condition{field: fieldFrequency, op: tt.op, ref: Mean}
		if got := orig.holds(&eval{v: ev.v, st: &Stats{MeanF: tt.ref}}); got != tt.want {
			t.Errorf("op %d ref %v v %d: unbound condition holds = %v, want %v", tt.op, tt.ref, tt.v, got, tt.want)
		}
	}
}
