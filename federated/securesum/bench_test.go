package securesum

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSecureSum runs whole secure-sum rounds through Node — the log
// (a real fsm.FSM applied in order, no raft), the blob protocol over
// in-memory streams (no QUIC/TLS), real lattigo with the production
// parameters PN13QP120 and t = N/2+1 as in federated/he's BenchmarkSecureSum,
// DP off so results are checked exactly. It reports per round:
//
//	wall-ms  wall time of SecureSum. All N parties share this machine's
//	         cores, so this is an upper bound of the critical path of a
//	         real deployment (parties in parallel on their own machines).
//	cpu-ms   process CPU time (user + system) of the round, all parties.
//	MB-sent  blob bytes sent between sites (ciphertexts, the aggregate's
//	         mask to the decryptors, decryption shares; not the leader's
//	         local copies).
//
// Compare cpu-ms and MB-sent with federated/he's BenchmarkSecureSum
// ("strata" and "lattigo" variants). 2^20 values run only with
// STRATA_BENCH_LARGE=1:
//
//	go test -run '^$' -bench SecureSum -benchtime 3x ./federated/securesum/
func BenchmarkSecureSum(b *testing.B) {
	sizes := []int{4096}
	if os.Getenv("STRATA_BENCH_LARGE") != "" {
		sizes = append(sizes, 1<<20)
	}
	for _, length := range sizes {
		for _, n := range []int{3, 5, 10} {
			th := n/2 + 1
			b.Run(fmt.Sprintf("values=%d/N=%d/t=%d", length, n, th), func(b *testing.B) {
				benchRounds(b, n, th, length)
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchRounds(b *testing.B, n, th, length int) {
	c := newMemClusterParams(b, n, th, true, DefaultParams, func(c *Config) {
		// Wait for every site, however slow this shared machine is.
		c.CollectTimeout, c.RoundTimeout = 10*time.Minute, 10*time.Minute
	})
	r := rand.New(rand.NewPCG(5, 6))
	want := make([]int64, length)
	for _, p := range c.stats {
		v := randomVector(r, length, -1<<40, 1<<40)
		must(b, p.Set("x", "", v))
		for i, x := range v {
			want[i] += x
		}
	}
	sent := func() int64 {
		var s int64
		for _, node := range c.nodes {
			s += node.Stats().BytesSent
		}
		return s
	}
	ctx := context.Background()
	var wall, cpu time.Duration
	var bytes int64
	b.ResetTimer()
	for range b.N {
		s0, c0, t0 := sent(), cpuTime(), time.Now()
		res, err := c.nodes["s0"].SecureSum(ctx, Spec{Statistic: "x", Lo: -1 << 40, Hi: 1 << 40})
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if len(res.Contributors) != n {
			b.Fatalf("round %s: %d contributors, want %d", res.RoundID, len(res.Contributors), n)
		}
		// Senders count a blob once it is acknowledged, just before the
		// round can finish; wait for the last acknowledgements.
		time.Sleep(20 * time.Millisecond)
		bytes += sent() - s0
		for i := range want {
			if res.Values[i] != want[i] {
				b.Fatalf("value %d = %d, want %d", i, res.Values[i], want[i])
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(wall.Microseconds())/1e3/float64(b.N), "wall-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms")
	b.ReportMetric(float64(bytes)/1e6/float64(b.N), "MB-sent")
}
