package fedtest2

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/protocol/wire"
)

// BenchmarkSecureSumQUIC runs secure sums end to end through N in-process
// daemons (called through the leader daemon's Go API): raft (raft-wal), the
// blob protocol over QUIC with mutual TLS on loopback, lattigo with the
// production parameters PN13QP120, t = N/2+1, DP off (results checked
// exactly). Per round it reports
//
//	wall-ms  the client's wait. All N parties share this machine's cores, so
//	         it bounds the critical path from above.
//	cpu-ms   process CPU, all parties, QUIC/TLS and raft included.
//	MB-sent  blob bytes between sites.
//	crit-ms  the critical path with every party on its own core (see
//	         critPath), from the round's timeline (securesum.Node.Timeline):
//	         the slowest party of each parallel step plus the leader's
//	         serial steps, in thread CPU time, plus the leader's raft
//	         commits (wall), plus the transport CPU of the bytes on the path.
//	enc-ms, sum-ms, share-ms, comb-ms, commit-ms, xfer-ms
//	         its parts: slowest encryption; the leader's adds and aggregate;
//	         slowest decryption share; the leader's share decoding and
//	         combine; the leader's commits; transport on the path.
//	xfer-ms/MB
//	         the blob transport's CPU per MB (both ends) that xfer-ms uses.
//
// Set STRATA_BENCH_LARGE=1 for 2^20 values, and STRATA_BENCH_CPUPROFILE=PREFIX
// for a CPU profile of the timed rounds only (PREFIX-<sub-benchmark>.prof):
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
				var sentBytes int64
				var crit critPath
				stopProfile := profileRounds(b)
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
					sentBytes += sent() - s0
					if len(res.Contributors) != n || len(res.Values) != length {
						b.Fatalf("round %s: %d contributors, %d values", res.RoundID, len(res.Contributors), len(res.Values))
					}
					for i := range want {
						if res.Values[i] != want[i] {
							b.Fatalf("value %d = %d, want %d", i, res.Values[i], want[i])
						}
					}
					var steps []securesum.Step
					for _, nd := range c.nodes {
						steps = append(steps, nd.d.SumNode().Timeline(res.RoundID)...)
					}
					crit.add(lead.site, steps)
					b.StartTimer()
				}
				stopProfile()
				b.StopTimer()
				crit.perByte = transportCost(b, c, lead) // after the rounds: its garbage stays out of them
				perRound := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(b.N) }
				b.ReportMetric(perRound(wall), "wall-ms")
				b.ReportMetric(perRound(cpu), "cpu-ms")
				b.ReportMetric(float64(sentBytes)/1e6/float64(b.N), "MB-sent")
				b.ReportMetric(crit.perByte, "xfer-ms/MB") // ns per byte = ms per MB
				b.ReportMetric(perRound(crit.total()), "crit-ms")
				for _, p := range crit.parts() {
					b.ReportMetric(perRound(p.d), p.name)
				}
			})
		}
	}
}

// critPath accumulates the critical path of rounds from their timelines,
// modelling every party on its own core with a network that is not the
// bottleneck (loopback here):
//
//	commits  the leader's raft commits of the round (StartRound, the
//	         Contributes, CloseRound, FinishRound; wall time: they wait on
//	         followers and fsync; concurrent ones counted once), all on
//	         the path;
//	enc      the slowest contributor's encryption (thread CPU): parties
//	         encrypt in parallel;
//	sum      the leader's adds of every contribution and the aggregate's
//	         mask (thread CPU): serial on the leader;
//	share    the slowest decryptor's share (thread CPU);
//	comb     the leader's decoding of the shares and the combine;
//	xfer     transport on the path: one contribution sent and all remote
//	         ones received by the leader, the mask sent to every remote
//	         decryptor and received by one, one share sent and all remote
//	         ones received, each end at half the blob transport's CPU per
//	         byte (perByte: QUIC, TLS, the receiver's copy and SHA-256),
//	         measured on this machine after the rounds (transportCost).
type critPath struct {
	perByte                        float64 // transport CPU ns per byte, both ends
	commits, enc, sum, share, comb time.Duration
	ends                           int64 // bytes on the path, counted at each end
}

func (p *critPath) add(leader string, steps []securesum.Step) {
	// Bytes of one remote transfer of each kind of blob, and how many the
	// leader sent or received.
	var ctLen, maskLen, shareLen int64
	var ctRecv, maskSends, shareRecv int
	var enc, share time.Duration
	var commits []securesum.Step
	for _, s := range steps {
		switch s.Name {
		case securesum.StepCommit:
			commits = append(commits, s)
		case securesum.StepEncrypt:
			enc = max(enc, s.CPU)
		case securesum.StepShare:
			share = max(share, s.CPU)
		case securesum.StepAdd, securesum.StepAggregate:
			p.sum += s.CPU
		case securesum.StepCombine:
			p.comb += s.CPU
		case securesum.StepSend:
			switch s.Detail {
			case "round.ciphertext":
				ctLen = s.Bytes
			case "round.aggregate":
				maskLen = s.Bytes
				maskSends++
			case "round.share":
				shareLen = s.Bytes
			}
		case securesum.StepReceive:
			switch {
			case s.Site == leader && s.Detail == "round.ciphertext":
				ctRecv++
			case s.Site == leader && s.Detail == "round.share":
				shareRecv++
			}
		}
	}
	p.enc += enc
	p.share += share
	p.commits += union(commits)
	p.ends += ctLen*int64(min(ctRecv, 1)+ctRecv) + maskLen*int64(maskSends+min(maskSends, 1)) + shareLen*int64(min(shareRecv, 1)+shareRecv)
}

func (p *critPath) xfer() time.Duration { return time.Duration(p.perByte / 2 * float64(p.ends)) }

// transportCost measures the blob transport's CPU per byte (ns per byte =
// ms per MB), both ends: a
// probe endpoint in this process sends 32 MiB blobs to nd over QUIC (one to
// warm the connection up), which reads, hashes and acknowledges them.
func transportCost(b *testing.B, c *cluster, nd *testNode) float64 {
	tr := probeTransport(b, c)
	s, _ := nd.d.FederationState().Site(nd.site)
	body := make([]byte, 32<<20)
	h := wire.NewBlobHeader(0, "ping", body)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	send := func() {
		conn, _, err := tr.Open(ctx, s.Address, wire.KindBulk)
		must(b, err)
		defer conn.Close()
		must(b, wire.WriteBlob(conn, &h, bytes.NewReader(body)))
		var ack wire.BlobHeader
		must(b, wire.ReadMessage(conn, &ack))
	}
	send()
	const n = 3
	c0 := cpuTime()
	for range n {
		send()
	}
	return float64(cpuTime()-c0) / float64(n*len(body))
}

// union returns the time covered by the steps' [Start, Start+Wall].
func union(steps []securesum.Step) time.Duration {
	slices.SortFunc(steps, func(a, b securesum.Step) int { return a.Start.Compare(b.Start) })
	var total time.Duration
	var end time.Time
	for _, s := range steps {
		e := s.Start.Add(s.Wall)
		switch {
		case !e.After(end):
		case s.Start.After(end):
			total += s.Wall
		default:
			total += e.Sub(end)
		}
		end = later(end, e)
	}
	return total
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (p *critPath) total() time.Duration {
	return p.commits + p.enc + p.sum + p.share + p.comb + p.xfer()
}

func (p *critPath) parts() []struct {
	name string
	d    time.Duration
} {
	return []struct {
		name string
		d    time.Duration
	}{{"enc-ms", p.enc}, {"sum-ms", p.sum}, {"share-ms", p.share}, {"comb-ms", p.comb}, {"commit-ms", p.commits}, {"xfer-ms", p.xfer()}}
}

// profileRounds starts a CPU profile of the timed rounds only (not the
// cluster's start or key set-up) when STRATA_BENCH_CPUPROFILE names a file
// prefix: each sub-benchmark writes PREFIX-<name>.prof. It returns the
// function that stops it.
func profileRounds(b *testing.B) func() {
	prefix := os.Getenv("STRATA_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(prefix + "-" + strings.NewReplacer("/", "_", "=", "").Replace(b.Name()) + ".prof")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
