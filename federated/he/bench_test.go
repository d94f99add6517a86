package he

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// Benchmarks use the production parameters PN13QP120.
//
//	go test -run '^$' -bench . -benchtime 3x ./federated/he/
//
// BenchmarkPrimitive measures lattigo alone, per ciphertext or per share.
// BenchmarkSecureSum runs one round in-process with this package (every
// object through its byte encoding, as on the wire) and the same round with
// raw lattigo calls, and reports:
//
//	crit-ms  critical path: parties' steps run in parallel, so the slowest
//	         party of each step plus the aggregator's steps (thread CPU time)
//	cpu-ms   total CPU time of all steps
//	MB-sent  serialized bytes that would cross the network: N ciphertexts
//	         to the aggregator, the aggregate (lattigo) or its mask (strata,
//	         half the size) to each of t decryptors, t decryption shares back
//
// Thread CPU time (not wall time) is used so other load on the machine does
// not inflate the numbers; ns/op is the wall time of the whole simulation.

var benchSizes = []int{4096, 1 << 20}
var benchParties = []int{3, 5, 10}

func benchThreshold(n int) int { return n/2 + 1 }

// clusters caches set-ups across sub-benchmarks (set-up is not measured).
var clusters = map[int]*cluster{}

func benchCluster(b *testing.B, n int) *cluster {
	b.Helper()
	if c, ok := clusters[n]; ok {
		return c
	}
	c := newCluster(b, MustParameters(PN13QP120), n, benchThreshold(n))
	clusters[n] = c
	return c
}

// meter accumulates per-step thread CPU time.
type meter struct {
	crit, total time.Duration
	steps       []time.Duration // slowest actor per step, summed over iterations
}

// step times each of the parallel actors' f and adds the slowest to the
// critical path.
func (m *meter) step(b *testing.B, idx, actors int, f func(i int) error) {
	b.Helper()
	var slowest time.Duration
	for i := 0; i < actors; i++ {
		t0 := threadCPU()
		if err := f(i); err != nil {
			b.Fatal(err)
		}
		d := threadCPU() - t0
		m.total += d
		slowest = max(slowest, d)
	}
	m.crit += slowest
	for len(m.steps) <= idx {
		m.steps = append(m.steps, 0)
	}
	m.steps[idx] += slowest
}

var stepNames = []string{"enc-ms", "sum-ms", "share-ms", "comb-ms"}

func (m *meter) report(b *testing.B, iters int, bytes int) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(iters) }
	b.ReportMetric(ms(m.crit), "crit-ms")
	b.ReportMetric(ms(m.total), "cpu-ms")
	b.ReportMetric(float64(bytes)/1e6, "MB-sent")
	for i, d := range m.steps {
		b.ReportMetric(ms(d), stepNames[i])
	}
}

func benchInputs(n, length int) [][]int64 {
	r := rand.New(rand.NewPCG(7, 8))
	in := make([][]int64, n)
	for i := range in {
		in[i] = randomVector(r, length, 1<<40)
	}
	return in
}

func BenchmarkSecureSum(b *testing.B) {
	for _, length := range benchSizes {
		for _, n := range benchParties {
			inputs := benchInputs(n, length)
			name := fmt.Sprintf("values=%d/N=%d/t=%d", length, n, benchThreshold(n))
			b.Run(name+"/strata", func(b *testing.B) { benchWrapper(b, n, inputs, false) })
			b.Run(name+"/strata-hash-on-receive", func(b *testing.B) { benchWrapper(b, n, inputs, true) })
			b.Run(name+"/lattigo", func(b *testing.B) { benchRaw(b, n, inputs, false) })
			b.Run(name+"/lattigo+marshal", func(b *testing.B) { benchRaw(b, n, inputs, true) })
		}
	}
}

// benchWrapper runs a round through this package as federated/securesum
// does: each site EncryptMarshal (encoding and digest in one pass), the
// aggregator Accumulator.Add, the aggregate's Mask to the decryptors. With
// hashOnReceive, the aggregator's SHA-256 of each contribution and each
// decryptor's of the mask are taken as computed while the bytes arrive
// (AddHashed, UnmarshalMaskHashed): counted in cpu-ms, not in crit-ms, as
// they overlap a network transfer that is ~10× slower than hashing.
func benchWrapper(b *testing.B, n int, inputs [][]int64, hashOnReceive bool) {
	c := benchCluster(b, n)
	sites := c.setup.Participants()
	decryptors := sites[n-c.setup.Threshold():] // the last t sites
	lockThread()
	defer unlockThread()
	var m meter
	var sent int
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		sent = 0
		wire := make([][]byte, n)
		m.step(b, 0, n, func(i int) error { // each site encrypts and encodes
			enc, err := NewEncryptor(c.pk)
			if err != nil {
				return err
			}
			wire[i], _, err = enc.EncryptMarshal(inputs[i])
			sent += len(wire[i])
			return err
		})
		var aggBytes []byte
		var agg *Ciphertext
		var digests [][32]byte
		if hashOnReceive {
			digests = make([][32]byte, n)
			t0 := threadCPU()
			for i, w := range wire {
				digests[i] = Digest(w)
			}
			m.total += threadCPU() - t0
		}
		m.step(b, 1, 1, func(int) error { // aggregator validates, hashes and sums
			acc, err := NewAccumulator(c.setup, len(inputs[0]))
			if err != nil {
				return err
			}
			for i, w := range wire {
				if hashOnReceive {
					err = acc.AddHashed(w, digests[i])
				} else {
					_, err = acc.Add(w)
				}
				if err != nil {
					return err
				}
			}
			if agg, err = acc.Aggregate(); err != nil {
				return err
			}
			aggBytes, err = agg.Mask().MarshalBinary() // also caches its digest, for the log
			sent += len(aggBytes) * len(decryptors)
			return err
		})
		var maskDigest [32]byte
		if hashOnReceive {
			t0 := threadCPU()
			maskDigest = Digest(aggBytes)
			m.total += (threadCPU() - t0) * time.Duration(len(decryptors))
		}
		shareBytes := make([][]byte, len(decryptors))
		m.step(b, 2, len(decryptors), func(i int) error { // each decryptor
			var mask *Mask
			var err error
			if hashOnReceive {
				mask, err = UnmarshalMaskHashed(c.setup, aggBytes, maskDigest)
			} else {
				mask, err = UnmarshalMask(c.setup, aggBytes)
			}
			if err != nil {
				return err
			}
			ds, err := c.keys[decryptors[i]].DecryptionShareMask(mask, decryptors)
			if err != nil {
				return err
			}
			shareBytes[i], err = ds.MarshalBinary()
			sent += len(shareBytes[i])
			return err
		})
		m.step(b, 3, 1, func(int) error { // aggregator combines
			shares := map[string]*DecryptionShare{}
			for i, s := range decryptors {
				var err error
				if shares[s], err = UnmarshalDecryptionShare(c.setup, shareBytes[i]); err != nil {
					return err
				}
			}
			got, err := Combine(agg, decryptors, shares)
			if err != nil {
				return err
			}
			return checkSum(got, inputs)
		})
	}
	b.StopTimer()
	m.report(b, b.N, sent)
}

func checkSum(got []int64, inputs [][]int64) error {
	for j := range got {
		var want int64
		for _, in := range inputs {
			want += in[j]
		}
		if got[j] != want {
			return fmt.Errorf("slot %d: got %d, want %d", j, got[j], want)
		}
	}
	return nil
}

// benchRaw runs the same round with lattigo calls only: N slots per
// ciphertext, no validation, no check slot; with marshal, transmitted
// objects go through lattigo's own MarshalBinary/UnmarshalBinary.
func benchRaw(b *testing.B, n int, inputs [][]int64, marshal bool) {
	c := benchCluster(b, n)
	pp := c.setup.params
	params := pp.params
	sites := c.setup.Participants()
	decryptors := sites[n-c.setup.Threshold():]
	points := make([]mhe.ShamirPublicPoint, len(decryptors))
	for i, s := range decryptors {
		points[i], _ = c.setup.Point(s)
	}
	slots := params.MaxSlots()
	length := len(inputs[0])
	k := (length + slots - 1) / slots
	sigma := pp.SmudgingSigma()
	noise := ring.DiscreteGaussian{Sigma: sigma, Bound: 6 * sigma}
	lockThread()
	defer unlockThread()
	var m meter
	var sent int
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		sent = 0
		cts := make([][]*rlwe.Ciphertext, n)
		wire := make([][][]byte, n)
		m.step(b, 0, n, func(i int) error {
			ecd := bgv.NewEncoder(params)
			enc := bgv.NewEncryptor(params, c.pk.pk)
			pt := bgv.NewPlaintext(params, params.MaxLevel())
			cts[i] = make([]*rlwe.Ciphertext, k)
			wire[i] = make([][]byte, k)
			for j := range cts[i] {
				if err := ecd.Encode(inputs[i][j*slots:min((j+1)*slots, length)], pt); err != nil {
					return err
				}
				cts[i][j] = bgv.NewCiphertext(params, 1, params.MaxLevel())
				if err := enc.Encrypt(pt, cts[i][j]); err != nil {
					return err
				}
				if marshal {
					var err error
					if wire[i][j], err = cts[i][j].MarshalBinary(); err != nil {
						return err
					}
					sent += len(wire[i][j])
				} else {
					sent += cts[i][j].BinarySize()
				}
			}
			return nil
		})
		agg := make([]*rlwe.Ciphertext, k)
		aggWire := make([][]byte, k)
		m.step(b, 1, 1, func(int) error {
			eval := bgv.NewEvaluator(params, nil)
			for j := range agg {
				if marshal {
					for i := range wire {
						cts[i][j] = new(rlwe.Ciphertext)
						if err := cts[i][j].UnmarshalBinary(wire[i][j]); err != nil {
							return err
						}
					}
				}
				agg[j] = cts[0][j].CopyNew()
				for i := 1; i < n; i++ {
					if err := eval.Add(agg[j], cts[i][j], agg[j]); err != nil {
						return err
					}
				}
				if marshal {
					var err error
					if aggWire[j], err = agg[j].MarshalBinary(); err != nil {
						return err
					}
				}
				sent += agg[j].BinarySize() * len(decryptors)
			}
			return nil
		})
		shares := make([][]mhe.KeySwitchShare, len(decryptors))
		shareWire := make([][][]byte, len(decryptors))
		m.step(b, 2, len(decryptors), func(d int) error {
			cmb := mhe.NewCombiner(params.Parameters, points[d], c.setup.points(), len(decryptors))
			sk := rlwe.NewSecretKey(params)
			if err := cmb.GenAdditiveShare(points, points[d], c.keys[decryptors[d]].tsk, sk); err != nil {
				return err
			}
			cks, err := mhe.NewKeySwitchProtocol(params, noise)
			if err != nil {
				return err
			}
			zero := rlwe.NewSecretKey(params)
			shares[d] = make([]mhe.KeySwitchShare, k)
			shareWire[d] = make([][]byte, k)
			for j := range shares[d] {
				ct := agg[j]
				if marshal {
					ct = new(rlwe.Ciphertext)
					if err := ct.UnmarshalBinary(aggWire[j]); err != nil {
						return err
					}
				}
				shares[d][j] = cks.AllocateShare(ct.Level())
				cks.GenShare(sk, zero, ct, &shares[d][j])
				if marshal {
					if shareWire[d][j], err = shares[d][j].MarshalBinary(); err != nil {
						return err
					}
				}
				sent += shares[d][j].BinarySize()
			}
			return nil
		})
		m.step(b, 3, 1, func(int) error {
			cks, err := mhe.NewKeySwitchProtocol(params, noise)
			if err != nil {
				return err
			}
			dec := bgv.NewDecryptor(params, rlwe.NewSecretKey(params))
			ecd := bgv.NewEncoder(params)
			pt := bgv.NewPlaintext(params, params.MaxLevel())
			out := bgv.NewCiphertext(params, 1, params.MaxLevel())
			vals := make([]int64, slots)
			got := make([]int64, length)
			for j := range agg {
				if marshal {
					for d := range shares {
						shares[d][j] = mhe.KeySwitchShare{}
						if err := shares[d][j].UnmarshalBinary(shareWire[d][j]); err != nil {
							return err
						}
					}
				}
				combined := cks.AllocateShare(agg[j].Level())
				for d := range shares {
					if err := cks.AggregateShares(combined, shares[d][j], &combined); err != nil {
						return err
					}
				}
				cks.KeySwitch(agg[j], combined, out)
				dec.Decrypt(out, pt)
				if err := ecd.Decode(pt, vals); err != nil {
					return err
				}
				copy(got[j*slots:min((j+1)*slots, length)], vals)
			}
			return checkSum(got, inputs)
		})
	}
	b.StopTimer()
	m.report(b, b.N, sent)
}

// BenchmarkPrimitive measures single lattigo operations on PN13QP120 (per
// ciphertext, per share) beside the package's per-ciphertext equivalents.
func BenchmarkPrimitive(b *testing.B) {
	const n, thr = 5, 3
	c := benchCluster(b, n)
	pp := c.setup.params
	params := pp.params
	sites := c.setup.Participants()
	decryptors := sites[:thr]
	points := make([]mhe.ShamirPublicPoint, thr)
	for i := range points {
		points[i] = mhe.ShamirPublicPoint(i + 1)
	}
	sigma := pp.SmudgingSigma()
	noise := ring.DiscreteGaussian{Sigma: sigma, Bound: 6 * sigma}
	values := randomVector(rand.New(rand.NewPCG(1, 1)), params.MaxSlots(), 1<<40)

	ecd := bgv.NewEncoder(params)
	enc := bgv.NewEncryptor(params, c.pk.pk)
	pt := bgv.NewPlaintext(params, params.MaxLevel())
	ct := bgv.NewCiphertext(params, 1, params.MaxLevel())
	if err := ecd.Encode(values, pt); err != nil {
		b.Fatal(err)
	}
	if err := enc.Encrypt(pt, ct); err != nil {
		b.Fatal(err)
	}
	addSks := make([]*rlwe.SecretKey, thr)
	for d := range addSks {
		cmb := mhe.NewCombiner(params.Parameters, points[d], c.setup.points(), thr)
		addSks[d] = rlwe.NewSecretKey(params)
		if err := cmb.GenAdditiveShare(points, points[d], c.keys[sites[d]].tsk, addSks[d]); err != nil {
			b.Fatal(err)
		}
	}
	cks, err := mhe.NewKeySwitchProtocol(params, noise)
	if err != nil {
		b.Fatal(err)
	}
	zero := rlwe.NewSecretKey(params)
	shares := make([]mhe.KeySwitchShare, thr)
	for d := range shares {
		shares[d] = cks.AllocateShare(ct.Level())
		cks.GenShare(addSks[d], zero, ct, &shares[d])
	}

	runCPU(b, "lattigo/EncodeEncrypt", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := ecd.Encode(values, pt); err != nil {
				b.Fatal(err)
			}
			if err := enc.Encrypt(pt, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, "lattigo/Add", func(b *testing.B) {
		eval := bgv.NewEvaluator(params, nil)
		acc := ct.CopyNew()
		for i := 0; i < b.N; i++ {
			if err := eval.Add(acc, ct, acc); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, "lattigo/DecryptionShare", func(b *testing.B) {
		share := cks.AllocateShare(ct.Level())
		for i := 0; i < b.N; i++ {
			cks.GenShare(addSks[0], zero, ct, &share)
		}
	})
	runCPU(b, "lattigo/CombineDecrypt", func(b *testing.B) {
		dec := bgv.NewDecryptor(params, zero)
		out := bgv.NewCiphertext(params, 1, params.MaxLevel())
		vals := make([]int64, params.MaxSlots())
		for i := 0; i < b.N; i++ {
			combined := cks.AllocateShare(ct.Level())
			for d := range shares {
				if err := cks.AggregateShares(combined, shares[d], &combined); err != nil {
					b.Fatal(err)
				}
			}
			cks.KeySwitch(ct, combined, out)
			dec.Decrypt(out, pt)
			if err := ecd.Decode(pt, vals); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, "lattigo/PublicKeyShare", func(b *testing.B) {
		ckg, crp, err := publicKeyCRP(c.setup)
		if err != nil {
			b.Fatal(err)
		}
		sk := c.parties[sites[0]].sk
		share := ckg.AllocateShare()
		for i := 0; i < b.N; i++ {
			ckg.GenShare(sk, crp, &share)
		}
	})
	runCPU(b, "lattigo/ThresholdShare", func(b *testing.B) {
		thrz := mhe.NewThresholdizer(params)
		poly, err := thrz.GenShamirPolynomial(thr, c.parties[sites[0]].sk)
		if err != nil {
			b.Fatal(err)
		}
		share := thrz.AllocateThresholdSecretShare()
		for i := 0; i < b.N; i++ {
			thrz.GenShamirSecretShare(2, poly, &share)
		}
	})

	// The package's equivalents (one ciphertext of Slots values).
	encW, err := NewEncryptor(c.pk)
	if err != nil {
		b.Fatal(err)
	}
	vals := values[:pp.Slots()]
	ctW, err := encW.Encrypt(vals)
	if err != nil {
		b.Fatal(err)
	}
	runCPU(b, "strata/Encrypt", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := encW.Encrypt(vals); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, "strata/DecryptionShare", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := c.keys[sites[0]].DecryptionShare(ctW, decryptors); err != nil {
				b.Fatal(err)
			}
		}
	})
	dsW := map[string]*DecryptionShare{}
	for _, s := range decryptors {
		if dsW[s], err = c.keys[s].DecryptionShare(ctW, decryptors); err != nil {
			b.Fatal(err)
		}
	}
	runCPU(b, "strata/Combine", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Combine(ctW, decryptors, dsW); err != nil {
				b.Fatal(err)
			}
		}
	})
	ctb, _ := ctW.MarshalBinary()
	runCPU(b, "strata/MarshalCiphertext", func(b *testing.B) {
		b.SetBytes(int64(len(ctb)))
		for i := 0; i < b.N; i++ {
			if _, err := ctW.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, "strata/UnmarshalCiphertext", func(b *testing.B) {
		b.SetBytes(int64(len(ctb)))
		for i := 0; i < b.N; i++ {
			if _, err := UnmarshalCiphertext(c.setup, ctb); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, "lattigo/MarshalCiphertext", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := ct.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, "strata/PublicKeyShare", func(b *testing.B) {
		p := c.parties[sites[0]]
		for i := 0; i < b.N; i++ {
			if _, err := p.PublicKeyShare(); err != nil {
				b.Fatal(err)
			}
		}
	})
	runCPU(b, fmt.Sprintf("strata/ThresholdShares(N=%d)", n), func(b *testing.B) {
		p := c.parties[sites[0]]
		for i := 0; i < b.N; i++ {
			if _, err := p.ThresholdShares(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// runCPU is b.Run that also reports the thread CPU time per operation
// (cpu-ns/op), which other load on the machine inflates less than ns/op.
func runCPU(b *testing.B, name string, f func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		lockThread()
		defer unlockThread()
		t0 := threadCPU()
		f(b)
		b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/op")
	})
}
