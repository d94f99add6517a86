package segment

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func mustPreset(t testing.TB, name string) *RuleSet {
	t.Helper()
	rs, err := Preset(name)
	if err != nil {
		t.Fatalf("Preset(%q): %v", name, err)
	}
	return rs
}

func TestPresetsSegments(t *testing.T) {
	want := map[string][]string{
		"value-tiers": {"core", "potential", "sleeping", "churned"},
		"rfm8": {"important_value", "important_development", "important_retention", "important_win_back",
			"general_value", "general_development", "general_retention", "general_win_back"},
		"rfm11": {"champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
			"about_to_sleep", "at_risk", "cant_lose", "lost", "hibernating"},
	}
	if got := PresetNames(); len(got) != len(want) {
		t.Fatalf("PresetNames() = %v", got)
	}
	for _, name := range PresetNames() {
		rs := mustPreset(t, name)
		if rs.Name != name {
			t.Errorf("Preset(%q).Name = %q", name, rs.Name)
		}
		if got := rs.Segments(); !slices.Equal(got, want[name]) {
			t.Errorf("Preset(%q).Segments() = %v, want %v", name, got, want[name])
		}
		if rs.Description == "" {
			t.Errorf("Preset(%q) has no description", name)
		}
	}
}

func TestRFM8(t *testing.T) {
	// independent statement of the classic model: (R recent, F high, M high) → label
	table := map[[3]bool]string{
		{true, true, true}:    "important_value",
		{true, false, true}:   "important_development",
		{false, true, true}:   "important_retention",
		{false, false, true}:  "important_win_back",
		{true, true, false}:   "general_value",
		{true, false, false}:  "general_development",
		{false, true, false}:  "general_retention",
		{false, false, false}: "general_win_back",
	}
	st := Stats{MeanR: 100, MeanF: 3, MeanM: 10000, MedianR: 40, MedianF: 2, MedianM: 5000}
	mean := mustPreset(t, "rfm8")
	median := mean.WithReference(Median)
	if mean.NeedsMedian() || !median.NeedsMedian() {
		t.Errorf("NeedsMedian: mean preset %v, median copy %v", mean.NeedsMedian(), median.NeedsMedian())
	}
	// values on each side of the reference, and exactly on it: recency equal
	// to the reference is not recent; F and M equal to it are high
	type side struct {
		v    int64
		high bool // for R: recent
	}
	cases := []struct {
		rs      *RuleSet
		r, f, m []side
	}{
		{mean, []side{{50, true}, {99, true}, {100, false}, {300, false}},
			[]side{{1, false}, {3, true}, {7, true}},
			[]side{{9999, false}, {10000, true}, {50000, true}}},
		{median, []side{{39, true}, {40, false}, {50, false}},
			[]side{{1, false}, {2, true}},
			[]side{{4999, false}, {5000, true}, {9000, true}}},
	}
	for _, c := range cases {
		for _, r := range c.r {
			for _, f := range c.f {
				for _, m := range c.m {
					rec := Record{RecencyDays: r.v, Frequency: f.v, MonetaryCents: m.v}
					want := table[[3]bool{r.high, f.high, m.high}]
					if got := c.rs.Label(rec, st); got != want {
						t.Errorf("%s reference: Label(R=%d F=%d M=%d) = %s, want %s",
							c.rs.Reference, r.v, f.v, m.v, got, want)
					}
				}
			}
		}
	}
	if mean.Reference != Mean || median.Reference != Median {
		t.Errorf("references %q, %q", mean.Reference, median.Reference)
	}
}

func TestRFM11Grid(t *testing.T) {
	// the published R-F grid, rows R = 5..1, columns F = 1..5
	grid := [5][5]string{
		{"new", "potential_loyalist", "potential_loyalist", "champions", "champions"},
		{"promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"},
		{"about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"},
		{"hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"},
		{"lost", "hibernating", "at_risk", "at_risk", "cant_lose"},
	}
	rs := mustPreset(t, "rfm11")
	seen := map[string]bool{}
	for i, row := range grid {
		r := uint8(5 - i)
		for j, want := range row {
			f := uint8(j + 1)
			for _, m := range []uint8{1, 3, 5} { // M is unused
				if got := rs.Label(Record{R: r, F: f, M: m}, Stats{}); got != want {
					t.Errorf("Label(R=%d F=%d M=%d) = %s, want %s", r, f, m, got, want)
				}
			}
			seen[want] = true
			if firstMatch(rs, Record{R: r, F: f}, Stats{}) < 0 {
				t.Errorf("R=%d F=%d falls through to the default", r, f)
			}
		}
	}
	if len(seen) != 11 {
		t.Errorf("grid uses %d segments, want 11", len(seen))
	}
	if got := rs.Label(Record{R: 0, F: 0}, Stats{}); got != "lost" {
		t.Errorf("Label(no scores) = %s, want the default lost", got)
	}
}

func TestValueTiers(t *testing.T) {
	rs := mustPreset(t, "value-tiers")
	tests := []struct {
		r, f, m uint8
		want    string
	}{
		{5, 5, 5, "core"}, {3, 4, 4, "core"}, {3, 5, 4, "core"},
		{3, 3, 5, "potential"}, {5, 5, 3, "potential"}, {4, 1, 1, "potential"}, {3, 1, 1, "potential"},
		{2, 5, 5, "sleeping"}, {2, 1, 1, "sleeping"},
		{1, 5, 5, "churned"}, {1, 1, 1, "churned"}, {0, 0, 0, "churned"},
	}
	for _, tt := range tests {
		if got := rs.Label(Record{R: tt.r, F: tt.f, M: tt.m}, Stats{}); got != tt.want {
			t.Errorf("Label(R=%d F=%d M=%d) = %s, want %s", tt.r, tt.f, tt.m, got, tt.want)
		}
	}
}

// firstMatch returns the index of the first matching rule, -1 for none.
func firstMatch(rs *RuleSet, r Record, st Stats) int {
	for i := range rs.rules {
		if rs.rules[i].matches(evalOf(r, st)) {
			return i
		}
	}
	return -1
}

func evalOf(r Record, st Stats) *eval { return newEval(&r, &st) }

func randomRecords(n int, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{
			RecencyDays:   rng.Int64N(730),
			Frequency:     1 + rng.Int64N(20),
			MonetaryCents: rng.Int64N(500000),
			R:             uint8(1 + rng.IntN(5)),
			F:             uint8(1 + rng.IntN(5)),
			M:             uint8(1 + rng.IntN(5)),
			TenureDays:    rng.Int64N(1000),
		}
	}
	return recs
}

// Every record gets exactly one label, every label is reachable, and for
// rfm8 exactly one rule holds (the rules partition the records).
func TestPresetCoverage(t *testing.T) {
	recs := randomRecords(20000, 1)
	st := ComputeStats(recs)
	for _, name := range PresetNames() {
		for _, ref := range []Reference{Mean, Median} {
			rs := mustPreset(t, name).WithReference(ref)
			segs := rs.Segments()
			count := make([]int, len(segs))
			for _, r := range recs {
				k := rs.Classify(r, st)
				if k < 0 || k >= len(segs) {
					t.Fatalf("%s: Classify = %d, outside %d segments", name, k, len(segs))
				}
				if l := rs.Label(r, st); l != segs[k] {
					t.Fatalf("%s: Label = %s, Classify names %s", name, l, segs[k])
				}
				count[k]++
				if name == "rfm8" {
					matched := 0
					for i := range rs.rules {
						if rs.rules[i].matches(evalOf(r, st)) {
							matched++
						}
					}
					if matched != 1 {
						t.Fatalf("rfm8: %d rules hold for %+v", matched, r)
					}
				}
			}
			for k, c := range count {
				if c == 0 {
					t.Errorf("%s (%s): segment %s never reached", name, ref, segs[k])
				}
			}
		}
	}
}

func TestComputeStats(t *testing.T) {
	if got := ComputeStats(nil); got != (Stats{}) {
		t.Errorf("ComputeStats(nil) = %+v", got)
	}
	recs := []Record{
		{RecencyDays: 10, Frequency: 1, MonetaryCents: 100},
		{RecencyDays: 1, Frequency: 9, MonetaryCents: 300},
		{RecencyDays: 4, Frequency: 2, MonetaryCents: 200},
	}
	want := Stats{MeanR: 5, MeanF: 4, MeanM: 200, MedianR: 4, MedianF: 2, MedianM: 200}
	if got := ComputeStats(recs); got != want {
		t.Errorf("ComputeStats(odd) = %+v, want %+v", got, want)
	}
	recs = append(recs, Record{RecencyDays: 5, Frequency: 4, MonetaryCents: 1000})
	want = Stats{MeanR: 5, MeanF: 4, MeanM: 400, MedianR: 4.5, MedianF: 3, MedianM: 250}
	if got := ComputeStats(recs); got != want {
		t.Errorf("ComputeStats(even) = %+v, want %+v", got, want)
	}
	if recs[0].RecencyDays != 10 {
		t.Error("ComputeStats reordered its input")
	}
}

func BenchmarkLabel(b *testing.B) {
	const n = 1_000_000
	recs := randomRecords(n, 2)
	st := ComputeStats(recs)
	for _, name := range PresetNames() {
		rs := mustPreset(b, name)
		b.Run(name+"/1M", func(b *testing.B) {
			var sink int
			for b.Loop() {
				for i := range recs {
					sink += rs.Classify(recs[i], st)
				}
			}
			_ = sink
		})
	}
	b.Run("ComputeStats/1M", func(b *testing.B) {
		for b.Loop() {
			ComputeStats(recs)
		}
	})
}

func TestMedianMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 2, 3, 4, 17, 100, 1001, 4000} {
		for _, distinct := range []int64{1, 2, 5, 1 << 40} {
			a := make([]int64, n)
			for i := range a {
				a[i] = rng.Int64N(distinct)
				if distinct == 2 && rng.IntN(10) < 4 { // heavy run of one value
					a[i] = 1
				}
			}
			s := slices.Clone(a)
			slices.Sort(s)
			want := float64(s[n/2])
			if n%2 == 0 {
				want = (float64(s[n/2-1]) + float64(s[n/2])) / 2
			}
			if got := median(a); got != want {
				t.Errorf("n=%d distinct=%d: median = %v, want %v", n, distinct, got, want)
			}
		}
	}
	// adversarial orders: sorted, reversed, organ pipe
	for _, mk := range []func(i, n int) int64{
		func(i, n int) int64 { return int64(i) },
		func(i, n int) int64 { return int64(n - i) },
		func(i, n int) int64 { return int64(min(i, n-i)) },
	} {
		n := 10000
		a := make([]int64, n)
		for i := range a {
			a[i] = mk(i, n)
		}
		s := slices.Clone(a)
		slices.Sort(s)
		if got, want := median(a), (float64(s[n/2-1])+float64(s[n/2]))/2; got != want {
			t.Errorf("median = %v, want %v", got, want)
		}
	}
}

func TestZeroRuleSet(t *testing.T) {
	var zero RuleSet
	if got := zero.Label(Record{R: 5}, Stats{}); got != "" {
		t.Errorf("zero RuleSet Label = %q, want empty", got)
	}
	var nilRS *RuleSet
	if got := nilRS.Classify(Record{}, Stats{}); got != -1 {
		t.Errorf("nil RuleSet Classify = %d, want -1", got)
	}
}
