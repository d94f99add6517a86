package fedtest2

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/securesum"
)

// seedRand returns a random source whose seed is logged, so a failure can
// be replayed.
func seedRand(t *testing.T) *rand.Rand {
	s := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", s)
	return rand.New(rand.NewPCG(s, 7))
}

func randomVector(r *rand.Rand, n int, lo, hi int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = lo + r.Int64N(hi-lo+1)
	}
	return v
}

// setStats gives every live node a random vector (values beyond the clamp
// bounds included) and returns the per-site clamped vectors.
func setStats(t *testing.T, c *cluster, r *rand.Rand, name string, length int, lo, hi int64) map[string][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string][]int64{}
	for _, nd := range c.nodes {
		if !nd.alive() {
			continue
		}
		v := randomVector(r, length, 2*lo-1, 2*hi+1)
		must(t, nodeClient(nd).SetStatistic(ctx, name, "", v))
		for i := range v {
			v[i] = min(max(v[i], lo), hi)
		}
		out[nd.site] = v
	}
	return out
}

func sumOf(vs map[string][]int64, sites []string, length int) []int64 {
	out := make([]int64, length)
	for _, s := range sites {
		for i, x := range vs[s] {
			out[i] += x
		}
	}
	return out
}

// exactSums runs rounds with DP off and checks each result is the exact sum
// of its contributors' clamped vectors, contributed by every live site and
// decrypted by t of them.
func exactSums(t *testing.T, c *cluster, r *rand.Rand, threshold, rounds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range rounds {
		length := 1 + r.IntN(3000) // up to two ciphertexts at LogN 11
		vs := setStats(t, c, r, "revenue", length, -1_000_000, 1_000_000)
		res, err := c.client().SecureSum(ctx, securesum.Spec{Statistic: "revenue", Lo: -1_000_000, Hi: 1_000_000}, time.Minute)
		if err != nil {
			t.Fatalf("SecureSum: %v", err)
		}
		if len(res.Contributors) != len(vs) {
			t.Errorf("round %s: contributors %v, want all %d live sites", res.RoundID, res.Contributors, len(vs))
		}
		if len(res.Decryptors) != threshold {
			t.Errorf("round %s: decryptors %v, want %d", res.RoundID, res.Decryptors, threshold)
		}
		if want := sumOf(vs, res.Contributors, length); !slices.Equal(res.Values, want) {
			t.Fatalf("round %s: sum differs from the exact sum (first values %v vs %v)", res.RoundID, res.Values[:min(5, length)], want[:min(5, length)])
		}
		if res.Noise.Mechanism != "none" {
			t.Errorf("round %s: noise %+v with DP off", res.RoundID, res.Noise)
		}
		t.Logf("round %s: exact sum of %d values over %d sites, decryptors %v", res.RoundID, length, len(res.Contributors), res.Decryptors)
	}
}

func keysInit(t testing.TB, c *cluster, threshold int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := c.client().StartKeySetup(ctx, threshold, "")
	if err != nil {
		t.Fatalf("key set-up %d of %d: %v", threshold, len(c.nodes), err)
	}
	if k.Status != "active" || k.Threshold != threshold || len(k.Participants) != len(c.nodes) {
		t.Fatalf("key set-up = %+v", k)
	}
	// Every node holds its share and the verified public key.
	waitUntil(t, 30*time.Second, "every node to hold its key", func() bool {
		for _, nd := range c.nodes {
			if !nd.alive() {
				continue
			}
			ks := nd.d.Keys()
			if len(ks) == 0 || !ks[len(ks)-1].Holding {
				return false
			}
		}
		return true
	})
}

// TestExactSumTen: DP off, N = 10 sites (5 voters, 5 non-voters), a random
// t-of-10 key, random vectors with negatives.
func TestExactSumTen(t *testing.T) {
	if testing.Short() {
		t.Skip("10 daemons; the N = 3 and N = 5 cases run in -short")
	}
	r := seedRand(t)
	c := newCluster(t, 10, true)
	th := 2 + r.IntN(9)
	keysInit(t, c, th)
	exactSums(t, c, r, th, 2)
}
