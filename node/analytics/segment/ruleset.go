package segment

import (
	"math"
	"slices"
)

// Reference says what "high" and "low" conditions compare against.
type Reference string

// References accepted in rule sets.
const (
	Mean   Reference = "mean"
	Median Reference = "median"
)

// field is a record value a condition reads.
type field uint8

const (
	fieldR field = iota + 1
	fieldF
	fieldM
	fieldRecency
	fieldFrequency
	fieldMonetary
	fieldTenure
	numFields // array size for values indexed by field
)

// fieldNames maps YAML names to fields; r, f, m are short for the scores.
var fieldNames = map[string]field{
	"r_score": fieldR, "r": fieldR,
	"f_score": fieldF, "f": fieldF,
	"m_score": fieldM, "m": fieldM,
	"recency_days": fieldRecency,
	"frequency":    fieldFrequency,
	"monetary":     fieldMonetary,
	"tenure_days":  fieldTenure,
}

func (f field) isScore() bool { return f <= fieldM }

// hasStats reports whether Stats holds a reference value for f.
func (f field) hasStats() bool {
	return f == fieldRecency || f == fieldFrequency || f == fieldMonetary
}

type op uint8

const (
	opLT op = iota + 1
	opLE
	opGT
	opGE
	opEQ
	opNE
	opBetween
	opIn
	opHigh
	opLow
)

var opNames = map[string]op{
	"<": opLT, "<=": opLE, ">": opGT, ">=": opGE, "==": opEQ, "!=": opNE,
	"between": opBetween, "in": opIn, "high": opHigh, "low": opLow,
}

// condition is one compiled test on one field.
type condition struct {
	field  field
	op     op
	a, b   int64   // operand; between: a ≤ v ≤ b
	set    []int64 // in
	ref    Reference
	ownRef bool // ref was set on the condition, not inherited
}

type rule struct {
	label   string
	segment int // index into RuleSet.segments
	when    []condition
}

// RuleSet is a compiled, immutable rule set: an ordered list of rules, each a
// label and conditions that must all hold, and a default label. It is safe
// for concurrent use. Build one with ParseRuleSet or Preset. The exported
// fields describe it; changing them does not change how it labels (use
// WithReference to switch between mean and median).
type RuleSet struct {
	Name        string
	Description string
	// Reference is what high/low conditions compare against unless a
	// condition names its own.
	Reference Reference
	// Default is the label of records no rule matches.
	Default string

	rules      []rule
	segments   []string
	defaultSeg int
}

// Label returns the label of the first rule whose conditions all hold for r,
// or the default label when none does. Every record gets exactly one label.
// A RuleSet not built by ParseRuleSet or Preset labels everything "".
func (rs *RuleSet) Label(r Record, st Stats) string {
	if k := rs.Classify(r, st); k >= 0 {
		return rs.segments[k]
	}
	return ""
}

// Classify is Label as an index into Segments(), for callers that count;
// −1 for a RuleSet not built by ParseRuleSet or Preset.
func (rs *RuleSet) Classify(r Record, st Stats) int {
	if rs == nil || len(rs.segments) == 0 {
		return -1
	}
	ev := newEval(&r, &st)
	for i := range rs.rules {
		if rs.rules[i].matches(ev) {
			return rs.rules[i].segment
		}
	}
	return rs.defaultSeg
}

// eval is one record's values indexed by field, and the stats.
type eval struct {
	v  [numFields]int64
	st *Stats
}

func newEval(r *Record, st *Stats) *eval {
	return &eval{st: st, v: [numFields]int64{
		fieldR: int64(r.R), fieldF: int64(r.F), fieldM: int64(r.M),
		fieldRecency: r.RecencyDays, fieldFrequency: r.Frequency,
		fieldMonetary: r.MonetaryCents, fieldTenure: r.TenureDays,
	}}
}

// Segments returns all labels in declaration order, each once: the rules'
// labels in order of first appearance, then the default if no rule has it.
// The slice is a copy.
func (rs *RuleSet) Segments() []string {
	if rs == nil {
		return nil
	}
	return slices.Clone(rs.segments)
}

// NeedsMedian reports whether any condition compares against a median, so a
// caller can skip computing medians.
func (rs *RuleSet) NeedsMedian() bool {
	if rs == nil {
		return false
	}
	for _, ru := range rs.rules {
		for _, c := range ru.when {
			if (c.op == opHigh || c.op == opLow) && c.ref == Median {
				return true
			}
		}
	}
	return false
}

// WithReference returns a copy of rs whose high/low conditions compare
// against ref, except conditions that name their own reference in YAML
// (`against:`). Use it to run the rfm8 preset against medians.
// An unknown ref returns rs unchanged.
func (rs *RuleSet) WithReference(ref Reference) *RuleSet {
	if rs == nil || (ref != Mean && ref != Median) {
		return rs
	}
	out := *rs
	out.Reference = ref
	out.rules = make([]rule, len(rs.rules))
	for i, ru := range rs.rules {
		ru.when = slices.Clone(ru.when)
		for j := range ru.when {
			if !ru.when[j].ownRef {
				ru.when[j].ref = ref
			}
		}
		out.rules[i] = ru
	}
	return &out
}

func (ru *rule) matches(ev *eval) bool {
	for i := range ru.when {
		if !ru.when[i].holds(ev) {
			return false
		}
	}
	return true
}

func (c *condition) holds(ev *eval) bool {
	v := ev.v[c.field]
	switch c.op {
	case opLT:
		return v < c.a
	case opLE:
		return v <= c.a
	case opGT:
		return v > c.a
	case opGE:
		return v >= c.a
	case opEQ:
		return v == c.a
	case opNE:
		return v != c.a
	case opBetween:
		return c.a <= v && v <= c.b
	case opIn:
		return slices.Contains(c.set, v)
	case opHigh, opLow:
		ref := c.field.reference(ev.st, c.ref)
		if -1<<53 < v && v < 1<<53 { // float64(v) is exact: compare as floats
			if c.op == opHigh {
				return float64(v) >= ref
			}
			return float64(v) < ref
		}
		rc := resolve(*c, ref) // exact integer comparison
		return rc.holds(ev)
	}
	return false
}

func (f field) reference(st *Stats, ref Reference) float64 {
	med := ref == Median
	switch f {
	case fieldRecency:
		if med {
			return st.MedianR
		}
		return st.MeanR
	case fieldFrequency:
		if med {
			return st.MedianF
		}
		return st.MeanF
	case fieldMonetary:
		if med {
			return st.MedianM
		}
		return st.MeanM
	}
	return 0
}

// resolve turns "v >= ref" (high) or "v < ref" (low) for integer v into an
// exact integer comparison, v >= ceil(ref) resp. v < ceil(ref), with no
// rounding of v to float64. A NaN reference makes both false.
func resolve(c condition, ref float64) condition {
	never := condition{field: c.field, op: opIn} // empty set: never holds
	always := condition{field: c.field, op: opBetween, a: math.MinInt64, b: math.MaxInt64}
	switch {
	case math.IsNaN(ref): // comparisons with NaN are false
		return never
	case ref >= math.MaxInt64: // the constant is 2^63 as a float64: no int64 reaches it
		if c.op == opHigh {
			return never
		}
		return always
	case ref <= math.MinInt64:
		if c.op == opHigh {
			return always
		}
		return never
	}
	out := condition{field: c.field, op: opGE, a: int64(math.Ceil(ref))}
	if c.op == opLow {
		out.op = opLT
	}
	return out
}
