package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sentinel errors. ParseRuleSet and Preset wrap one of them, with context
// naming the rule (1-based index and label), the condition, the key and the
// YAML line; test with errors.Is.
var (
	// ErrUnknownPreset: Preset was given a name it does not know.
	ErrUnknownPreset = errors.New("unknown preset")
	// ErrSyntax: the bytes are not one YAML document of the expected shape
	// (a mapping where a mapping belongs, a list where a list belongs).
	ErrSyntax = errors.New("malformed rule set")
	// ErrUnknownKey: a mapping has a key the format does not define.
	ErrUnknownKey = errors.New("unknown key")
	// ErrMissingKey: a required key (default, rules, label, when, field, op,
	// value) is absent or empty.
	ErrMissingKey = errors.New("missing key")
	// ErrUnknownField: a condition names a field that does not exist.
	ErrUnknownField = errors.New("unknown field")
	// ErrUnknownOp: a condition names an operator that does not exist, or
	// high/low on a field without dataset statistics.
	ErrUnknownOp = errors.New("unknown operator")
	// ErrBadValue: a value has the wrong type or shape for its field and
	// operator, such as a fraction of a day, more than 2 decimals of money, a
	// score above 255, between with lo > hi, or an unknown reference.
	ErrBadValue = errors.New("bad value")
)

// ParseRuleSet parses and compiles a rule set from YAML (format in the
// package doc). Parsing is strict: unknown keys, missing required keys,
// wrong types and extra documents are errors. Errors name the rule by
// 1-based index and label, the condition by index, the key, and the line.
func ParseRuleSet(yamlBytes []byte) (*RuleSet, error) {
	rs, err := parseRuleSet(yamlBytes)
	if err != nil {
		return nil, fmt.Errorf("rule set: %w", err)
	}
	return rs, nil
}

func parseRuleSet(b []byte) (*RuleSet, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty document: %w", ErrSyntax)
		}
		return nil, fmt.Errorf("%v: %w", err, ErrSyntax)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("empty document: %w", ErrSyntax)
	}
	if err := noAliases(&doc); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("more than one YAML document: %w", ErrSyntax)
	}
	top, err := mapping(doc.Content[0], "top level", "name", "description", "reference", "default", "rules")
	if err != nil {
		return nil, err
	}
	rs := &RuleSet{Reference: Mean}
	if n := top["name"]; n != nil {
		if rs.Name, err = text(n, "name"); err != nil {
			return nil, err
		}
	}
	if n := top["description"]; n != nil {
		if rs.Description, err = text(n, "description"); err != nil {
			return nil, err
		}
	}
	if n := top["reference"]; n != nil {
		if rs.Reference, err = reference(n, "reference"); err != nil {
			return nil, err
		}
	}
	if rs.Default, err = requiredText(top, "default", "top level"); err != nil {
		return nil, err
	}
	rules := top["rules"]
	if rules == nil {
		return nil, fmt.Errorf("top level: key \"rules\": %w", ErrMissingKey)
	}
	if rules.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: rules: want a list of rules: %w", rules.Line, ErrSyntax)
	}
	if len(rules.Content) == 0 {
		return nil, fmt.Errorf("line %d: rules: empty list: %w", rules.Line, ErrMissingKey)
	}
	segIndex := map[string]int{}
	for i, n := range rules.Content {
		ru, err := parseRule(n, i+1, rs.Reference)
		if err != nil {
			return nil, err
		}
		if _, ok := segIndex[ru.label]; !ok {
			segIndex[ru.label] = len(rs.segments)
			rs.segments = append(rs.segments, ru.label)
		}
		ru.segment = segIndex[ru.label]
		rs.rules = append(rs.rules, ru)
	}
	if _, ok := segIndex[rs.Default]; !ok {
		segIndex[rs.Default] = len(rs.segments)
		rs.segments = append(rs.segments, rs.Default)
	}
	rs.defaultSeg = segIndex[rs.Default]
	return rs, nil
}

func parseRule(n *yaml.Node, index int, ref Reference) (rule, error) {
	where := fmt.Sprintf("rule %d (line %d)", index, n.Line)
	m, err := mapping(n, where, "label", "when")
	if err != nil {
		return rule{}, err
	}
	var ru rule
	if ru.label, err = requiredText(m, "label", where); err != nil {
		return rule{}, err
	}
	where = fmt.Sprintf("rule %d %q (line %d)", index, ru.label, n.Line)
	when := m["when"]
	if when == nil {
		return rule{}, fmt.Errorf("%s: key \"when\": %w", where, ErrMissingKey)
	}
	if when.Kind != yaml.SequenceNode {
		return rule{}, fmt.Errorf("%s: when: want a list of conditions: %w", where, ErrSyntax)
	}
	if len(when.Content) == 0 {
		return rule{}, fmt.Errorf("%s: when: no conditions (use default for a catch-all): %w", where, ErrMissingKey)
	}
	for j, cn := range when.Content {
		c, err := parseCondition(cn, ref)
		if err != nil {
			return rule{}, fmt.Errorf("%s: condition %d (line %d): %w", where, j+1, cn.Line, err)
		}
		ru.when = append(ru.when, c)
	}
	return ru, nil
}

func parseCondition(n *yaml.Node, ref Reference) (condition, error) {
	m, err := mapping(n, "condition", "field", "op", "value", "against")
	if err != nil {
		return condition{}, err
	}
	name, err := requiredText(m, "field", "condition")
	if err != nil {
		return condition{}, err
	}
	c := condition{ref: ref}
	var ok bool
	if c.field, ok = fieldNames[name]; !ok {
		return condition{}, fmt.Errorf("field %q (want one of %s): %w", name, keys(fieldNames), ErrUnknownField)
	}
	opName, err := requiredText(m, "op", "condition")
	if err != nil {
		return condition{}, err
	}
	if c.op, ok = opNames[opName]; !ok {
		return condition{}, fmt.Errorf("field %s: op %q (want one of %s): %w", name, opName, keys(opNames), ErrUnknownOp)
	}
	val, against := m["value"], m["against"]
	switch c.op {
	case opHigh, opLow:
		if !c.field.hasStats() {
			return condition{}, fmt.Errorf("field %s: op %s needs dataset statistics, only recency_days, frequency and monetary have them: %w",
				name, opName, ErrUnknownOp)
		}
		if val != nil {
			return condition{}, fmt.Errorf("field %s: op %s takes no value (compare with against: mean|median): %w",
				name, opName, ErrBadValue)
		}
		if against != nil {
			if c.ref, err = reference(against, "against"); err != nil {
				return condition{}, fmt.Errorf("field %s: %w", name, err)
			}
			c.ownRef = true
		}
		return c, nil
	}
	if against != nil {
		return condition{}, fmt.Errorf("field %s: against is only for op high or low, not %s: %w", name, opName, ErrBadValue)
	}
	if val == nil {
		return condition{}, fmt.Errorf("field %s: op %s: key \"value\": %w", name, opName, ErrMissingKey)
	}
	switch c.op {
	case opBetween, opIn:
		if val.Kind != yaml.SequenceNode {
			return condition{}, fmt.Errorf("field %s: op %s wants a list value: %w", name, opName, ErrBadValue)
		}
		vals := make([]int64, len(val.Content))
		for i, vn := range val.Content {
			if vals[i], err = number(vn, c.field); err != nil {
				return condition{}, fmt.Errorf("field %s: value %d: %w", name, i+1, err)
			}
		}
		if c.op == opIn {
			if len(vals) == 0 {
				return condition{}, fmt.Errorf("field %s: op in: empty list: %w", name, ErrBadValue)
			}
			c.set = vals
			return c, nil
		}
		if len(vals) != 2 || vals[0] > vals[1] {
			return condition{}, fmt.Errorf("field %s: op between wants [low, high] with low <= high: %w", name, ErrBadValue)
		}
		c.a, c.b = vals[0], vals[1]
	default:
		if c.a, err = number(val, c.field); err != nil {
			return condition{}, fmt.Errorf("field %s: %w", name, err)
		}
	}
	return c, nil
}

// number reads one operand: an integer for days, orders and scores
// (0..255), a decimal with at most 2 places for money (returned in cents).
func number(n *yaml.Node, f field) (int64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("line %d: a list or mapping is not a number: %w", n.Line, ErrBadValue)
	}
	if n.Tag != "!!int" && n.Tag != "!!float" {
		return 0, fmt.Errorf("line %d: %q is not a number: %w", n.Line, n.Value, ErrBadValue)
	}
	if f == fieldMonetary {
		c, err := cents(n.Value)
		if err != nil {
			return 0, fmt.Errorf("line %d: %q: %v: %w", n.Line, n.Value, err, ErrBadValue)
		}
		return c, nil
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("line %d: %q is not a decimal integer: %w", n.Line, n.Value, ErrBadValue)
	}
	if f.isScore() && (v < 0 || v > 255) {
		return 0, fmt.Errorf("line %d: score %d outside 0..255: %w", n.Line, v, ErrBadValue)
	}
	return v, nil
}

// cents parses a plain decimal of currency units ("500", "-12.5", "0.99")
// into integer cents, exactly.
func cents(s string) (int64, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	digits := strings.TrimPrefix(strings.TrimPrefix(whole, "-"), "+")
	if digits == "" || !allDigits(digits) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, errors.New("want a plain decimal number such as 500 or 12.50")
	}
	if len(frac) > 2 {
		return 0, errors.New("more than 2 decimals")
	}
	frac += strings.Repeat("0", 2-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return v, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// noAliases rejects YAML aliases (*name): a rule set is small enough to
// write out, and refusing them rules out alias bombs.
func noAliases(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		return fmt.Errorf("line %d: YAML aliases are not supported: %w", n.Line, ErrSyntax)
	}
	for _, c := range n.Content {
		if err := noAliases(c); err != nil {
			return err
		}
	}
	return nil
}

// mapping checks that n is a mapping with only the allowed keys, each once,
// and returns its values by key.
func mapping(n *yaml.Node, where string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: want a mapping of keys %s: %w",
			where, n.Line, strings.Join(allowed, ", "), ErrSyntax)
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("%s: line %d: key %q (want one of %s): %w",
				where, n.Content[i].Line, k, strings.Join(allowed, ", "), ErrUnknownKey)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s: line %d: key %q given twice: %w", where, n.Content[i].Line, k, ErrSyntax)
		}
		m[k] = n.Content[i+1]
	}
	return m, nil
}

func text(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", fmt.Errorf("line %d: %s: want a string: %w", n.Line, key, ErrSyntax)
	}
	return n.Value, nil
}

func requiredText(m map[string]*yaml.Node, key, where string) (string, error) {
	n := m[key]
	if n == nil || (n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || strings.TrimSpace(n.Value) == "")) {
		return "", fmt.Errorf("%s: key %q: %w", where, key, ErrMissingKey)
	}
	s, err := text(n, key)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

func reference(n *yaml.Node, key string) (Reference, error) {
	if n.Kind == yaml.ScalarNode {
		if r := Reference(n.Value); r == Mean || r == Median {
			return r, nil
		}
	}
	return "", fmt.Errorf("line %d: %s %q: want mean or median: %w", n.Line, key, n.Value, ErrBadValue)
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}
