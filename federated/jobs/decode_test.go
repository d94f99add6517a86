package jobs

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// lastQuery is a Summer that keeps the last query and its sum.
type lastQuery struct {
	Summer
	q Query
	v []int64
}

func (s *lastQuery) Sum(ctx context.Context, q Query) ([]int64, error) {
	v, err := s.Summer.Sum(ctx, q)
	s.q, s.v = q, slices.Clone(v)
	return v, err
}

// TestDecodeChannels: decoding a seg.channel round's logged params and
// released vector gives exactly the table RunChannels built from the same
// sum, DP off (exact codec) and on (balanced codec).
func TestDecodeChannels(t *testing.T) {
	channels := []string{"store", "marketplace", "mini-program"}
	sites := splitColumns(t, synthColumns(3000, 7), 3, 7, channels)
	ctx := context.Background()
	for _, p := range []Privacy{{}, {Epsilon: 1, Delta: 1e-6}} {
		s := &lastQuery{Summer: &MemSummer{Sites: sites, DP: !p.Off()}}
		res, err := Run(ctx, s, Options{Privacy: p, Channels: channels, SkipCLV: true, KMeans: KMeansOptions{K: 3}})
		if err != nil {
			t.Fatalf("run (ε=%v): %v", p.Epsilon, err)
		}
		if s.q.Statistic != StatChannels {
			t.Fatalf("last query is %s, want %s", s.q.Statistic, StatChannels)
		}
		got, err := DecodeChannels(s.q.Params, s.v)
		if err != nil {
			t.Fatalf("DecodeChannels (ε=%v): %v", p.Epsilon, err)
		}
		want := *res.Channels
		want.Cost = Cost{Job: "channels"}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("ε=%v: DecodeChannels = %+v, RunChannels = %+v", p.Epsilon, *got, want)
		}
		if _, err := DecodeChannels(s.q.Params, s.v[1:]); !errors.Is(err, ErrParams) {
			t.Errorf("short vector: %v, want ErrParams", err)
		}
	}
	for name, params := range map[string]string{
		"not json":    "{",
		"no model":    `{"model":null,"channels":["a"],"codec":{"exact":false,"frac":0,"scale":1,"bounds":[1,1,1]}}`,
		"other field": `{"v":1}`,
	} {
		if _, err := DecodeChannels([]byte(params), []int64{1, 2, 3}); !errors.Is(err, ErrParams) {
			t.Errorf("%s: DecodeChannels = %v, want ErrParams", name, err)
		}
	}
}
