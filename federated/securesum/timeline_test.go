package securesum

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestTimeline: after a round, every site's timeline shows its part — the
// leader's commits, adds, aggregate and combine, each contributor's encrypt
// and send, each decryptor's share (the leader is one) — with CPU times
// where the step computes, and only the last keepTimelines rounds are kept.
func TestTimeline(t *testing.T) {
	c := newMemCluster(t, 3, 2, true)
	for _, p := range c.stats {
		must(t, p.Set("x", "", []int64{1, 2, 3}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.nodes["s0"].SecureSum(ctx, Spec{Statistic: "x", Lo: 0, Hi: 9})
	must(t, err)
	count := map[string]map[string]int{}
	for site, n := range c.nodes {
		count[site] = map[string]int{}
		for _, s := range n.Timeline(res.RoundID) {
			if s.Site != site || s.Wall < 0 || s.CPU < 0 || s.Start.IsZero() {
				t.Errorf("%s: step %+v", site, s)
			}
			if (s.Name == StepEncrypt || s.Name == StepShare || s.Name == StepAggregate) && s.CPU == 0 {
				t.Errorf("%s: %s step without CPU time: %+v", site, s.Name, s)
			}
			count[site][s.Name+"/"+s.Detail]++
		}
	}
	lead := count["s0"]
	for step, want := range map[string]int{"commit/start_round": 1, "commit/contribute": 3, "add/": 3, "aggregate/": 1,
		"commit/close_round": 1, "combine/decode": 2, "combine/": 1, "commit/finish_round": 1, "encrypt/": 1} {
		if lead[step] != want {
			t.Errorf("leader: %d %s steps, want %d (timeline %v)", lead[step], step, want, lead)
		}
	}
	for _, site := range []string{"s1", "s2"} {
		if count[site]["encrypt/"] != 1 || count[site]["send/"+kindCiphertext] != 1 {
			t.Errorf("%s: steps %v, want an encrypt and a ciphertext send", site, count[site])
		}
	}
	if !slices.Contains(res.Decryptors, "s0") {
		t.Errorf("decryptors %v: the live leader s0 is not one", res.Decryptors)
	}
	shares := 0
	for _, d := range res.Decryptors {
		shares += count[d]["share/"]
	}
	if shares != 2 {
		t.Errorf("%d share steps for decryptors %v, want 2", shares, res.Decryptors)
	}

	// Only the last keepTimelines rounds are kept.
	n := c.nodes["s0"]
	for i := range keepTimelines + 2 {
		n.record(strconv.Itoa(1000+i), Step{Name: StepAdd})
	}
	if len(n.Timeline(res.RoundID)) != 0 || len(n.Timeline("1001")) != 0 || len(n.Timeline("1017")) != 1 {
		t.Errorf("timelines kept: %d rounds", len(n.timelines))
	}
}
