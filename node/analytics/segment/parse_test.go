package segment

import (
	"errors"
	"strings"
	"testing"
)

const customYAML = `
name: custom
reference: median
default: other
rules:
  - label: whale
    when:
      - {field: monetary, op: ">=", value: 1000.5}
  - label: vip
    when:
      - {field: r, op: in, value: [4, 5]}
      - {field: frequency, op: high, against: mean}
  - label: odd
    when:
      - {field: f_score, op: "!=", value: 3}
      - {field: m_score, op: "==", value: 1}
      - {field: tenure_days, op: between, value: [10, 20]}
  - label: young
    when:
      - {field: tenure_days, op: "<", value: 10}
  - label: young
    when:
      - {field: recency_days, op: "<=", value: 2}
  - label: busy
    when:
      - {field: frequency, op: ">", value: 50}
  - label: other
    when:
      - {field: monetary, op: low}
`

func TestParseCustom(t *testing.T) {
	rs, err := ParseRuleSet([]byte(customYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rs.Segments(), ","), "whale,vip,odd,young,busy,other"; got != want {
		t.Errorf("Segments() = %s, want %s (labels once, in first appearance)", got, want)
	}
	if !rs.NeedsMedian() {
		t.Error("NeedsMedian() = false for reference: median")
	}
	st := Stats{MeanF: 10, MedianF: 2, MedianM: 5000}
	base := Record{RecencyDays: 100, Frequency: 5, MonetaryCents: 6000, R: 3, F: 3, M: 3, TenureDays: 100}
	tests := []struct {
		name string
		edit func(*Record)
		want string
	}{
		{"monetary exactly 1000.50", func(r *Record) { r.MonetaryCents = 100050 }, "whale"},
		{"monetary a cent below", func(r *Record) { r.MonetaryCents = 100049 }, "other"},
		{"vip: R in list and F >= mean (not median)", func(r *Record) { r.R, r.Frequency = 4, 10 }, "vip"},
		{"vip needs F >= mean 10", func(r *Record) { r.R, r.Frequency = 4, 9 }, "other"},
		{"odd at lower between bound", func(r *Record) { r.F, r.M, r.TenureDays = 2, 1, 10 }, "odd"},
		{"odd at upper between bound", func(r *Record) { r.F, r.M, r.TenureDays = 2, 1, 20 }, "odd"},
		{"odd: F == 3 fails !=", func(r *Record) { r.F, r.M, r.TenureDays = 3, 1, 15 }, "other"},
		{"odd: tenure 21 outside between", func(r *Record) { r.F, r.M, r.TenureDays = 2, 1, 21 }, "other"},
		{"young by tenure", func(r *Record) { r.TenureDays = 9 }, "young"},
		{"young by recency (second rule, same label)", func(r *Record) { r.RecencyDays = 2 }, "young"},
		{"busy", func(r *Record) { r.Frequency = 51 }, "busy"},
		{"frequency 50 is not > 50", func(r *Record) { r.Frequency = 50 }, "other"},
		{"low monetary against median", func(r *Record) { r.MonetaryCents = 4999 }, "other"},
		{"no rule: default", func(r *Record) {}, "other"},
	}
	for _, tt := range tests {
		r := base
		tt.edit(&r)
		if got := rs.Label(r, st); got != tt.want {
			t.Errorf("%s: Label(%+v) = %s, want %s", tt.name, r, got, tt.want)
		}
	}
}

// wrap puts rules into an otherwise valid rule set.
func wrap(rules string) string { return "default: d\nrules:\n" + rules }

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want error
		msg  []string // substrings the message must contain
	}{
		{"empty", "", ErrSyntax, []string{"empty"}},
		{"comment only", "# nothing\n", ErrSyntax, []string{"empty"}},
		{"not yaml", "rules: [", ErrSyntax, nil},
		{"top is a list", "- a\n- b\n", ErrSyntax, []string{"top level"}},
		{"two documents", wrap("  - {label: a, when: [{field: r, op: '>', value: 1}]}\n") + "---\nname: x\n", ErrSyntax, []string{"more than one"}},
		{"unknown top key", "defualt: d\n" + "rules: []\n", ErrUnknownKey, []string{`"defualt"`, "top level"}},
		{"missing default", "rules:\n  - {label: a, when: [{field: r, op: '>', value: 1}]}\n", ErrMissingKey, []string{`"default"`}},
		{"empty default", "default: ''\nrules:\n  - {label: a, when: [{field: r, op: '>', value: 1}]}\n", ErrMissingKey, []string{`"default"`}},
		{"missing rules", "default: d\n", ErrMissingKey, []string{`"rules"`}},
		{"no rules", "default: d\nrules: []\n", ErrMissingKey, []string{"rules"}},
		{"rules a map", "default: d\nrules: {a: b}\n", ErrSyntax, []string{"list of rules"}},
		{"bad reference", "reference: mode\n" + wrap("  - {label: a, when: [{field: r, op: '>', value: 1}]}\n"), ErrBadValue, []string{"mode"}},
		{"duplicate key", "default: d\ndefault: e\nrules: []\n", ErrSyntax, nil},
		{"rule unknown key", wrap("  - {label: a, wehn: []}\n"), ErrUnknownKey, []string{"rule 1", `"wehn"`}},
		{"rule missing label", wrap("  - {when: [{field: r, op: '>', value: 1}]}\n"), ErrMissingKey, []string{"rule 1", `"label"`}},
		{"rule missing when", wrap("  - {label: a, when: [{field: r, op: '>', value: 1}]}\n  - {label: b}\n"), ErrMissingKey, []string{`rule 2 "b"`, `"when"`}},
		{"rule empty when", wrap("  - {label: a, when: []}\n"), ErrMissingKey, []string{`rule 1 "a"`, "no conditions"}},
		{"rule is a string", wrap("  - a\n"), ErrSyntax, []string{"rule 1"}},
		{"condition unknown key", wrap("  - {label: vip, when: [{field: r, op: '>', value: 1, valeu: 2}]}\n"), ErrUnknownKey, []string{`rule 1 "vip"`, "condition 1", `"valeu"`}},
		{"unknown field", wrap("  - {label: a, when: [{field: r, op: '>', value: 1}]}\n  - {label: vip, when: [{field: r, op: '>', value: 1}, {field: recncy, op: '<', value: 3}]}\n"), ErrUnknownField, []string{`rule 2 "vip"`, "condition 2", `"recncy"`}},
		{"missing field", wrap("  - {label: a, when: [{op: '>', value: 1}]}\n"), ErrMissingKey, []string{`"field"`}},
		{"unknown op", wrap("  - {label: a, when: [{field: frequency, op: '=>', value: 1}]}\n"), ErrUnknownOp, []string{`rule 1 "a"`, "frequency", `"=>"`}},
		{"missing op", wrap("  - {label: a, when: [{field: frequency, value: 1}]}\n"), ErrMissingKey, []string{`"op"`}},
		{"missing value", wrap("  - {label: a, when: [{field: frequency, op: '>'}]}\n"), ErrMissingKey, []string{"frequency", `"value"`}},
		{"high on a score", wrap("  - {label: a, when: [{field: r_score, op: high}]}\n"), ErrUnknownOp, []string{"r_score", "high"}},
		{"high with value", wrap("  - {label: a, when: [{field: frequency, op: high, value: 3}]}\n"), ErrBadValue, []string{"frequency", "no value"}},
		{"against without high", wrap("  - {label: a, when: [{field: frequency, op: '>', value: 3, against: mean}]}\n"), ErrBadValue, []string{"against"}},
		{"bad against", wrap("  - {label: a, when: [{field: frequency, op: low, against: mode}]}\n"), ErrBadValue, []string{"frequency", "mode"}},
		{"string value", wrap("  - {label: a, when: [{field: frequency, op: '>', value: '3'}]}\n"), ErrBadValue, []string{"frequency", "not a number"}},
		{"fractional days", wrap("  - {label: a, when: [{field: recency_days, op: '<', value: 3.5}]}\n"), ErrBadValue, []string{"recency_days", "integer"}},
		{"score out of range", wrap("  - {label: a, when: [{field: m, op: '>=', value: 300}]}\n"), ErrBadValue, []string{"score 300"}},
		{"money 3 decimals", wrap("  - {label: big, when: [{field: monetary, op: '>=', value: 12.345}]}\n"), ErrBadValue, []string{`rule 1 "big"`, "monetary", "2 decimals"}},
		{"money exponent", wrap("  - {label: a, when: [{field: monetary, op: '>=', value: 1e3}]}\n"), ErrBadValue, []string{"monetary", "plain decimal"}},
		{"money overflow", wrap("  - {label: a, when: [{field: monetary, op: '>=', value: 999999999999999999}]}\n"), ErrBadValue, []string{"out of range"}},
		{"between scalar", wrap("  - {label: a, when: [{field: r, op: between, value: 3}]}\n"), ErrBadValue, []string{"list"}},
		{"between three", wrap("  - {label: a, when: [{field: r, op: between, value: [1, 2, 3]}]}\n"), ErrBadValue, []string{"[low, high]"}},
		{"between reversed", wrap("  - {label: a, when: [{field: r, op: between, value: [4, 2]}]}\n"), ErrBadValue, []string{"low <= high"}},
		{"in empty", wrap("  - {label: a, when: [{field: r, op: in, value: []}]}\n"), ErrBadValue, []string{"empty"}},
		{"in bad element", wrap("  - {label: a, when: [{field: r, op: in, value: [1, x]}]}\n"), ErrBadValue, []string{"value 2"}},
		{"alias", wrap("  - {label: a, when: &c [{field: r, op: '>', value: 1}]}\n  - {label: b, when: *c}\n"), ErrSyntax, []string{"aliases"}},
		{"list for scalar op", wrap("  - {label: a, when: [{field: frequency, op: '>', value: [1]}]}\n"), ErrBadValue, []string{"not a number"}},
	}
	for _, tt := range tests {
		rs, err := ParseRuleSet([]byte(tt.yaml))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
			continue
		}
		if rs != nil {
			t.Errorf("%s: got a rule set with the error", tt.name)
		}
		for _, s := range tt.msg {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not mention %s", tt.name, err, s)
			}
		}
	}
}

func TestPresetErrors(t *testing.T) {
	if _, err := Preset("rfm9"); !errors.Is(err, ErrUnknownPreset) {
		t.Errorf("Preset(rfm9) err = %v, want ErrUnknownPreset", err)
	}
	if _, err := PresetYAML("../parse.go"); !errors.Is(err, ErrUnknownPreset) {
		t.Errorf("PresetYAML(path) err = %v, want ErrUnknownPreset", err)
	}
}

// The preset sources round-trip: a user copying them gets the same rule set.
func TestPresetYAMLParses(t *testing.T) {
	for _, name := range PresetNames() {
		b, err := PresetYAML(name)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := ParseRuleSet(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rs.Name != name {
			t.Errorf("PresetYAML(%s) names itself %q", name, rs.Name)
		}
	}
}

func FuzzParseRuleSet(f *testing.F) {
	f.Add([]byte(customYAML))
	for _, name := range PresetNames() {
		b, _ := PresetYAML(name)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseRuleSet(b)
		if err != nil {
			return
		}
		segs := rs.Segments()
		k := rs.Classify(Record{R: 3, F: 3, M: 3}, Stats{})
		if k < 0 || k >= len(segs) {
			t.Fatalf("Classify = %d with %d segments", k, len(segs))
		}
	})
}
