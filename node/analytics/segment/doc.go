// Package segment labels users with declarative rule sets over their RFM
// values and scores: built-in presets (value tiers, the eight-class RFM
// model, the eleven-segment R/F map) and user-defined rule sets in YAML.
//
// It is pure: no I/O (presets are embedded at build time), no goroutines, no
// global state. A compiled [RuleSet] is immutable and safe for concurrent
// use. The promises: every record gets exactly one label (the first rule
// whose conditions all hold, else the default); labels depend only on the
// record and the [Stats] passed in, so the local engine and the federation
// (which computes Stats from global aggregates) label alike; parsing is
// strict and every error names where it is.
//
// # Rule set format
//
//	name: my-tiers                 # optional
//	description: free text         # optional
//	reference: mean                # optional: mean (default) or median, for high/low
//	default: other                 # required: the label when no rule matches
//	rules:                         # required, at least one, tried in order
//	  - label: vip                 # required; several rules may share a label (an OR)
//	    when:                      # required: conditions that must all hold
//	      - {field: r_score, op: ">=", value: 4}
//	      - {field: monetary, op: between, value: [500, 2000.50]}
//	      - {field: frequency, op: high, against: median}
//	  - label: other
//	    when:
//	      - {field: tenure_days, op: "<", value: 30}
//
// Fields: r_score, f_score, m_score (alias r, f, m; the 1..5 scores, values
// 0..255), recency_days, frequency (distinct orders), monetary (currency
// units with at most 2 decimals, compared exactly as integer cents),
// tenure_days. Values are plain numbers; days and orders are integers.
//
// Operators: <, <=, >, >=, ==, != with a number; between with [low, high]
// (both inclusive); in with a list of numbers; high and low with no value,
// only on recency_days, frequency and monetary: high is value ≥ reference,
// low is value < reference (compared exactly, the integer never rounded to
// float; a NaN reference makes both false), where the reference is the dataset mean or
// median from [Stats] (the rule set's reference, or the condition's
// `against`). Note the direction for recency: a recent customer, "R high" in
// the eight-class model, is `{field: recency_days, op: low}`.
//
// Unknown keys, missing keys, unknown fields or operators, values of the
// wrong shape and more than one YAML document are errors wrapping the
// sentinels below, with the rule's 1-based index and label, the condition's
// index and the line in the message.
//
// # Presets
//
// The presets are written in this format; [PresetYAML] returns their source
// to copy and edit (files presets/*.yaml in this package, which carry the
// full tables).
//
// value-tiers (scores):
//
//	core       R ≥ 3 and F ≥ 4 and M ≥ 4
//	potential  R ≥ 3
//	sleeping   R = 2
//	churned    default (R = 1, or no scores)
//
// rfm8 (values against the mean; [RuleSet.WithReference] for medians),
// "R high" meaning recency_days < reference, F and M high meaning ≥:
//
//	important_value        R high, F high, M high
//	important_development  R high, F low,  M high
//	important_retention    R low,  F high, M high
//	important_win_back     R low,  F low,  M high
//	general_value          R high, F high, M low
//	general_development    R high, F low,  M low
//	general_retention      R low,  F high, M low
//	general_win_back       R low,  F low,  M low
//
// rfm11 (R and F scores; M unused):
//
//	champions           R 5,    F 4–5
//	loyal               R 3–4,  F 4–5
//	potential_loyalist  R 4–5,  F 2–3
//	new                 R 5,    F 1
//	promising           R 4,    F 1
//	need_attention      R 3,    F 3
//	about_to_sleep      R 3,    F 1–2
//	at_risk             R 1–2,  F 3–4
//	cant_lose           R 1–2,  F 5
//	lost                R 1,    F 1
//	hibernating         R 1–2,  F 1–2 (other than lost)
//
// This is the R-F grid widely published with RFM segmentation recipes
// ("hibernating, at risk, can't lose, about to sleep, need attention, loyal
// customers, promising, new customers, potential loyalists, champions"),
// with its R=1, F=1 corner named lost to make the eleventh segment.
package segment
