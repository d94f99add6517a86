package segment_test

import (
	"fmt"

	"github.com/strata-fed/strata/node/analytics/segment"
)

func ExampleParseRuleSet() {
	rs, err := segment.ParseRuleSet([]byte(`
name: tiers
default: other
rules:
  - label: vip
    when:
      - {field: r_score, op: ">=", value: 4}
      - {field: monetary, op: ">=", value: 500}
  - label: regular
    when:
      - {field: frequency, op: high}
`))
	if err != nil {
		panic(err)
	}
	st := segment.Stats{MeanF: 2.5}
	fmt.Println(rs.Segments())
	fmt.Println(rs.Label(segment.Record{R: 5, MonetaryCents: 50000}, st))
	fmt.Println(rs.Label(segment.Record{R: 5, MonetaryCents: 49999, Frequency: 3}, st))
	fmt.Println(rs.Label(segment.Record{R: 1, Frequency: 2}, st))
	// Output:
	// [vip regular other]
	// vip
	// regular
	// other
}

func ExamplePreset() {
	rs, err := segment.Preset("rfm11")
	if err != nil {
		panic(err)
	}
	fmt.Println(rs.Label(segment.Record{R: 5, F: 5, M: 1}, segment.Stats{}))
	fmt.Println(rs.Label(segment.Record{R: 1, F: 5, M: 5}, segment.Stats{}))
	// Output:
	// champions
	// cant_lose
}
