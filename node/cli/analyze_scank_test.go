package cli

import (
	"slices"
	"testing"
)

func TestParseKs(t *testing.T) {
	good := []struct {
		in   string
		want []int
	}{
		{"", nil},
		{"2-5", []int{2, 3, 4, 5}},
		{"3,5,8", []int{3, 5, 8}},
		{"8, 2-3,3", []int{2, 3, 8}},
	}
	for _, tc := range good {
		got, err := parseKs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseKs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"0", "a", "5-2", "2-", "1-100", "-3"} {
		if got, err := parseKs(in); err == nil {
			t.Errorf("parseKs(%q) = %v, want an error", in, got)
		}
	}
}
