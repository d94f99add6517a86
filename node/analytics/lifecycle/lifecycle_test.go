package lifecycle

import (
	"errors"
	"reflect"
	"testing"
)

// h builds a history; prev < 0 means a single order.
func h(first, last, prev int64) History {
	orders := int64(1)
	if prev >= 0 {
		orders = 3
	}
	return History{FirstDays: first, LastDays: last, PrevDays: prev, Orders: orders}
}

func TestStageDefaultsBoundaries(t *testing.T) {
	tests := []struct {
		name string
		h    History
		want Stage
	}{
		{"first purchase today", h(0, 0, -1), New},
		{"first purchase 30 days ago", h(30, 30, -1), New},
		{"first 30, last 1", h(30, 1, 29), New},
		{"first 31 days ago, single order", h(31, 31, -1), Active},
		{"first 31, last 0", h(31, 0, 10), Active},
		{"last 90", h(400, 90, 100), Active},
		{"last 91", h(400, 91, 100), AtRisk},
		{"last 180", h(400, 180, 200), AtRisk},
		{"last 181", h(400, 181, 200), Dormant},
		{"last 365", h(400, 365, 380), Dormant},
		{"last 366", h(400, 366, 380), Churned},
		{"single order long ago", h(1000, 1000, -1), Churned},
		// reactivation: gap PrevDays − LastDays > 180 while last ≤ 90
		{"gap 181, last 90", h(500, 90, 271), Reactivated},
		{"gap 180, last 90", h(500, 90, 270), Active},
		{"gap 181, last 1", h(500, 1, 182), Reactivated},
		{"gap 181, last 91 (not recent)", h(500, 91, 272), AtRisk},
		{"gap huge, last 0", h(3000, 0, 3000), Reactivated},
		{"same-day last two orders", h(200, 50, 50), Active},
	}
	var p Params
	for _, tt := range tests {
		got, err := p.Classify(tt.h)
		if err != nil || got != tt.want {
			t.Errorf("%s: Classify(%+v) = %q, %v, want %q", tt.name, tt.h, got, err, tt.want)
		}
		if s := p.Stage(tt.h); s != got {
			t.Errorf("%s: Stage = %q, Classify = %q", tt.name, s, got)
		}
	}
}

func TestStageCustomBoundaries(t *testing.T) {
	p := Params{NewDays: 7, ActiveDays: 30, AtRiskDays: 60, DormantDays: 120, ReactivationGapDays: 45}
	tests := []struct {
		h    History
		want Stage
	}{
		{h(7, 7, -1), New}, {h(8, 8, -1), Active},
		{h(100, 30, 40), Active}, {h(100, 31, 40), AtRisk},
		{h(100, 60, 70), AtRisk}, {h(100, 61, 70), Dormant},
		{h(200, 120, 130), Dormant}, {h(200, 121, 130), Churned},
		{h(200, 30, 76), Reactivated}, {h(200, 30, 75), Active},
	}
	for _, tt := range tests {
		if got, err := p.Classify(tt.h); err != nil || got != tt.want {
			t.Errorf("Classify(%+v) = %q, %v, want %q", tt.h, got, err, tt.want)
		}
	}
	// the gap defaults to AtRiskDays, not to the global default 180
	q := Params{AtRiskDays: 100}
	if got := q.Stage(h(300, 10, 111)); got != Reactivated {
		t.Errorf("gap 101 with AtRiskDays 100: %q, want reactivated", got)
	}
	if got := q.Stage(h(300, 10, 110)); got != Active {
		t.Errorf("gap 100 with AtRiskDays 100: %q, want active", got)
	}
}

func TestZeroParamsAreDefaults(t *testing.T) {
	explicit := Params{NewDays: 30, ActiveDays: 90, AtRiskDays: 180, DormantDays: 365, ReactivationGapDays: 180}
	if got := (Params{}).WithDefaults(); got != explicit {
		t.Errorf("Params{}.WithDefaults() = %+v, want %+v", got, explicit)
	}
	// every field must get a default: fails when a field is added but not handled
	d := reflect.ValueOf(Params{}.WithDefaults())
	for i := range d.NumField() {
		if d.Field(i).IsZero() {
			t.Errorf("WithDefaults leaves %s zero", d.Type().Field(i).Name)
		}
	}
	// explicit values are kept
	if got := (Params{NewDays: 5}).WithDefaults().NewDays; got != 5 {
		t.Errorf("WithDefaults changed NewDays 5 to %d", got)
	}
}

func TestValidate(t *testing.T) {
	good := []Params{{}, {NewDays: 90}, {ActiveDays: 179}, {AtRiskDays: 364}, {NewDays: 1, ActiveDays: 2, AtRiskDays: 3, DormantDays: 4}}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
	bad := []Params{
		{NewDays: -1}, {ActiveDays: -1}, {AtRiskDays: -1}, {DormantDays: -1}, {ReactivationGapDays: -1},
		{NewDays: 91},                       // above the default ActiveDays
		{ActiveDays: 180},                   // not below the default AtRiskDays
		{AtRiskDays: 365},                   // not below the default DormantDays
		{DormantDays: 100},                  // below the default AtRiskDays
		{ActiveDays: 50, AtRiskDays: 40},    // out of order
		{AtRiskDays: 200, DormantDays: 200}, // equal
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrParams) {
			t.Errorf("Validate(%+v) = %v, want ErrParams", p, err)
		}
		if s, err := p.Classify(h(100, 10, -1)); s != Unknown || !errors.Is(err, ErrParams) {
			t.Errorf("Classify with %+v = %q, %v, want Unknown, ErrParams", p, s, err)
		}
		if s := p.Stage(h(100, 10, -1)); s != Unknown {
			t.Errorf("Stage with %+v = %q, want Unknown", p, s)
		}
	}
}

func TestBadHistory(t *testing.T) {
	bad := []History{
		{FirstDays: 10, LastDays: 5, PrevDays: -1, Orders: 0},  // no orders
		{FirstDays: 10, LastDays: -1, PrevDays: -1, Orders: 1}, // after as-of
		{FirstDays: 5, LastDays: 10, PrevDays: -1, Orders: 1},  // first after last
		{FirstDays: 50, LastDays: 10, PrevDays: 5, Orders: 3},  // prev after last
		{FirstDays: 50, LastDays: 10, PrevDays: 60, Orders: 3}, // prev before first
		{FirstDays: 50, LastDays: 10, PrevDays: 20, Orders: 1}, // prev with one order
	}
	var p Params
	for _, hist := range bad {
		if s, err := p.Classify(hist); s != Unknown || !errors.Is(err, ErrHistory) {
			t.Errorf("Classify(%+v) = %q, %v, want Unknown, ErrHistory", hist, s, err)
		}
	}
}

// Every valid history gets one of the six stages.
func TestStagesCover(t *testing.T) {
	stages := map[Stage]bool{}
	for _, s := range Stages() {
		stages[s] = true
	}
	if len(stages) != 6 || stages[Unknown] {
		t.Fatalf("Stages() = %v", Stages())
	}
	seen := map[Stage]bool{}
	var p Params
	for first := int64(0); first <= 800; first += 7 {
		for last := int64(0); last <= first; last += 5 {
			for prev := int64(-1); prev <= first; prev += 11 {
				if prev >= 0 && prev < last {
					continue
				}
				s, err := p.Classify(h(first, last, prev))
				if err != nil || !stages[s] {
					t.Fatalf("Classify(%d, %d, %d) = %q, %v", first, last, prev, s, err)
				}
				seen[s] = true
			}
		}
	}
	if len(seen) != 6 {
		t.Errorf("stages reached: %v, want all 6", seen)
	}
}
