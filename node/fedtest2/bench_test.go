package fedtest2

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/securesum"
)

// BenchmarkSecureSumQUIC runs secure sums end to end through N in-process
// daemons (called through the leader daemon's Go API): raft (raft-wal), the blob protocol over QUIC with
// mutual TLS on loopback, lattigo with the production parameters PN13QP120,
// t = N/2+1, DP off (results checked exactly). Per round it reports wall-ms
// (the client's wait: an upper bound of the critical path, since all N
// parties share this machine's cores), cpu-ms (process CPU, all parties,
// QUIC/TLS included) and MB-sent (blob bytes between sites). Set
// STRATA_BENCH_LARGE=1 for 2^20 values:
//
//	go test -run '^$' -bench SecureSumQUIC -benchtime 3x ./node/fedtest2/
func BenchmarkSecureSumQUIC(b *testing.B) {
	sizes := []int{4096}
	if os.Getenv("STRATA_BENCH_LARGE") != "" {
		sizes = append(sizes, 1<<20)
	}
	for _, length := range sizes {
		for _, n := range []int{3, 5, 10} {
			th := n/2 + 1
			b.Run(fmt.Sprintf("values=%d/N=%d/t=%d", length, n, th), func(b *testing.B) {
				c := newClusterParams(b, n, true, securesum.DefaultParams)
				keysInit(b, c, th)
				r := rand.New(rand.NewPCG(5, 6))
				ctx := context.Background()
				want := make([]int64, length)
				for _, nd := range c.nodes {
					v := randomVector(r, length, -1<<40, 1<<40)
					must(b, nodeClient(nd).SetStatistic(ctx, "x", "", v))
					for i, x := range v {
						want[i] += x
					}
				}
				sent := func() int64 {
					var s int64
					for _, nd := range c.nodes {
						s += nd.d.SumStats().BytesSent
					}
					return s
				}
				// The daemon's Go API on the leader: the admin API's JSON of
				// a 2^20-value result is not part of the protocol's cost.
				lead := c.leader()
				var wall, cpu time.Duration
				var bytes int64
				b.ResetTimer()
				for range b.N {
					s0, c0, t0 := sent(), cpuTime(), time.Now()
					res, err := lead.d.SecureSum(ctx, securesum.Spec{Statistic: "x", Lo: -1 << 40, Hi: 1 << 40})
					wall += time.Since(t0)
					cpu += cpuTime() - c0
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					time.Sleep(50 * time.Millisecond) // last acknowledgements
					bytes += sent() - s0
					if len(res.Contributors) != n || len(res.Values) != length {
						b.Fatalf("round %s: %d contributors, %d values", res.RoundID, len(res.Contributors), len(res.Values))
					}
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
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
