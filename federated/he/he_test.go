package he

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func randomVector(r *rand.Rand, n int, maxAbs int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = r.Int64N(2*maxAbs+1) - maxAbs
	}
	return v
}

func TestSecureSumExact(t *testing.T) {
	pp := testParams(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{3, 5, 10} {
		thr := 1 + r.IntN(n)
		c := newCluster(t, pp, n, thr)
		length := pp.Slots() + 1 + r.IntN(pp.Slots()) // two ciphertexts, last padded
		inputs := map[string][]int64{}
		want := make([]int64, length)
		maxAbs := pp.MaxAbsInput(n)
		for i, s := range c.setup.Participants() {
			v := randomVector(r, length, 1_000_000)
			v[0] = maxAbs // extremes sum exactly
			v[1] = -maxAbs
			if i%2 == 0 {
				v[2] = -1
			}
			inputs[s] = v
			for j := range v {
				want[j] += v[j]
			}
		}
		agg, err := Sum(c.encryptAll(t, inputs)...)
		if err != nil {
			t.Fatal(err)
		}
		if agg.Count() != n {
			t.Fatalf("Count() = %d, want %d", agg.Count(), n)
		}
		decryptors := c.setup.Participants()
		r.Shuffle(len(decryptors), func(i, j int) { decryptors[i], decryptors[j] = decryptors[j], decryptors[i] })
		decryptors = decryptors[:thr]
		got, err := c.decrypt(t, agg, decryptors)
		if err != nil {
			t.Fatalf("N=%d t=%d decryptors %v: %v", n, thr, decryptors, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("N=%d t=%d: sum differs from plaintext sum", n, thr)
		}
		t.Logf("N=%d t=%d decryptors=%v: %d values exact", n, thr, decryptors, length)
	}
}

func TestNonDecryptorNotNeeded(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 5, 3)
	sites := c.setup.Participants()
	// Only three sites contribute; sites 0 and 4 are absent entirely.
	inputs := map[string][]int64{sites[1]: {5, -7, 9}, sites[2]: {-20, 3, 0}, sites[3]: {1, 1, 1}}
	agg, err := Sum(c.encryptAll(t, inputs)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, dec := range [][]string{{sites[3], sites[1], sites[2]}, {sites[1], sites[2], sites[3]}} {
		got, err := c.decrypt(t, agg, dec)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{-14, -3, 10}; !slices.Equal(got, want) {
			t.Errorf("decrypt with %v = %v, want %v", dec, got, want)
		}
	}
	// A site outside the decryptor list cannot produce a share for it.
	if _, err := c.keys[sites[0]].DecryptionShare(agg, []string{sites[1], sites[2], sites[3]}); !errors.Is(err, ErrMismatch) {
		t.Errorf("DecryptionShare by non-decryptor: err = %v, want ErrMismatch", err)
	}
}

func TestWrongDecryptorListDetected(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 5, 3)
	sites := c.setup.Participants()
	agg, err := Sum(c.encryptAll(t, map[string][]int64{sites[0]: {1, 2, 3}, sites[1]: {4, 5, 6}})...)
	if err != nil {
		t.Fatal(err)
	}
	listA := []string{sites[0], sites[1], sites[2]}
	listB := []string{sites[0], sites[1], sites[3]}

	// Mixed lists: the share of sites[2] names listA, the others listB.
	shares := map[string]*DecryptionShare{}
	for _, s := range listB {
		if shares[s], err = c.keys[s].DecryptionShare(agg, listB); err != nil {
			t.Fatal(err)
		}
	}
	other, err := c.keys[sites[2]].DecryptionShare(agg, listA)
	if err != nil {
		t.Fatal(err)
	}
	mixed := map[string]*DecryptionShare{sites[0]: shares[sites[0]], sites[1]: shares[sites[1]], sites[2]: other}
	if _, err := Combine(agg, listA, mixed); !errors.Is(err, ErrMismatch) {
		t.Errorf("Combine with shares for another list: err = %v, want ErrMismatch", err)
	}

	// Even if the labels are forged to agree, the check slot catches it.
	forged := *other
	forged.decryptors = shares[sites[0]].decryptors
	if _, err := combine(agg, []*DecryptionShare{shares[sites[0]], shares[sites[1]], &forged}); !errors.Is(err, ErrDecryption) {
		t.Errorf("combine with a share for another list: err = %v, want ErrDecryption", err)
	}

	// Exactly t decryptors: the Lagrange combination does not depend on the
	// order, so a share made for a reordered list still decrypts correctly;
	// Combine nevertheless rejects it (the list digest covers the order).
	reordered, err := c.keys[sites[3]].DecryptionShare(agg, []string{sites[3], sites[1], sites[0]})
	if err != nil {
		t.Fatal(err)
	}
	got, err := combine(agg, []*DecryptionShare{shares[sites[0]], shares[sites[1]], reordered})
	if err != nil || !slices.Equal(got, []int64{5, 7, 9}) {
		t.Errorf("combine with a reordered list = %v, %v; want [5 7 9]", got, err)
	}
	if _, err := Combine(agg, listB, map[string]*DecryptionShare{sites[0]: shares[sites[0]], sites[1]: shares[sites[1]], sites[3]: reordered}); !errors.Is(err, ErrMismatch) {
		t.Errorf("Combine with a reordered-list share: err = %v, want ErrMismatch", err)
	}

	// A share for another aggregate (of the same set-up and length): its
	// mask digest differs, so Combine rejects it before combining.
	agg2, err := Sum(c.encryptAll(t, map[string][]int64{sites[0]: {1, 2, 3}})...)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := c.keys[sites[3]].DecryptionShareMask(agg2.Mask(), listB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Combine(agg, listB, map[string]*DecryptionShare{sites[0]: shares[sites[0]], sites[1]: shares[sites[1]], sites[3]: foreign}); !errors.Is(err, ErrMismatch) {
		t.Errorf("Combine with a share of another aggregate: err = %v, want ErrMismatch", err)
	}

	// Too few shares.
	delete(shares, sites[3])
	if _, err := Combine(agg, listB, shares); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Combine with t-1 shares: err = %v, want ErrIncomplete", err)
	}
}

func TestRangeChecks(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 3, 2)
	enc, err := NewEncryptor(c.pk)
	if err != nil {
		t.Fatal(err)
	}
	if enc.MaxAbs() != pp.MaxAbsSum()/3 {
		t.Fatalf("MaxAbs() = %d, want %d", enc.MaxAbs(), pp.MaxAbsSum()/3)
	}
	for _, v := range []int64{enc.MaxAbs() + 1, -enc.MaxAbs() - 1, -1 << 63} {
		if _, err := enc.Encrypt([]int64{0, v}); !errors.Is(err, ErrRange) {
			t.Errorf("Encrypt(%d): err = %v, want ErrRange", v, err)
		}
	}
	if _, err := enc.Encrypt(nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("Encrypt(nil): err = %v, want ErrMismatch", err)
	}
	ct, err := enc.Encrypt([]int64{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sum(ct, ct, ct, ct); !errors.Is(err, ErrRange) {
		t.Errorf("Sum of 4 contributions with 3 participants: err = %v, want ErrRange", err)
	}
	ct2, err := enc.Encrypt([]int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sum(ct, ct2); !errors.Is(err, ErrMismatch) {
		t.Errorf("Sum of different lengths: err = %v, want ErrMismatch", err)
	}
	sum2, err := Sum(ct2, ct2)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := ct2.MarshalBinary()
	bs, _ := sum2.MarshalBinary()
	if _, err := UnmarshalContribution(c.setup, 2, b2); err != nil {
		t.Errorf("UnmarshalContribution(fresh) = %v", err)
	}
	if _, err := UnmarshalContribution(c.setup, 3, b2); !errors.Is(err, ErrMismatch) {
		t.Errorf("UnmarshalContribution(wrong length) err = %v, want ErrMismatch", err)
	}
	if _, err := UnmarshalContribution(c.setup, 2, bs); !errors.Is(err, ErrMismatch) {
		t.Errorf("UnmarshalContribution(sum) err = %v, want ErrMismatch", err)
	}
	if err := pp.CheckSum(pp.MaxAbsSum()/10, 10); err != nil {
		t.Errorf("CheckSum(max/10, 10) = %v", err)
	}
	if err := pp.CheckSum(pp.MaxAbsSum()/10+1, 10); !errors.Is(err, ErrRange) {
		t.Errorf("CheckSum(max/10+1, 10) = %v, want ErrRange", err)
	}
}

// TestConcurrentParties runs the per-party steps of a round in parallel, one
// Encryptor per goroutine (run with -race).
func TestConcurrentParties(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 4, 2)
	sites := c.setup.Participants()
	cts := make([]*Ciphertext, len(sites))
	var wg sync.WaitGroup
	errs := make([]error, len(sites))
	for i := range sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := NewEncryptor(c.pk)
			if err == nil {
				cts[i], err = enc.Encrypt([]int64{int64(i), -int64(i)})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	agg, err := Sum(cts...)
	if err != nil {
		t.Fatal(err)
	}
	dec := []string{sites[2], sites[0]}
	shares := make([]*DecryptionShare, len(dec))
	for i, s := range dec {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shares[i], errs[i] = c.keys[s].DecryptionShare(agg, dec)
		}()
	}
	wg.Wait()
	for _, err := range errs[:len(dec)] {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := Combine(agg, dec, map[string]*DecryptionShare{dec[0]: shares[0], dec[1]: shares[1]})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{6, -6}; !slices.Equal(got, want) {
		t.Errorf("sum = %v, want %v", got, want)
	}
}

// TestProductionParamsSecureSum runs one short secure sum on PN13QP120 (the
// other tests use the insecure set unless -he.params says otherwise).
func TestProductionParamsSecureSum(t *testing.T) {
	pp := MustParameters(PN13QP120)
	c := newCluster(t, pp, 3, 2)
	sites := c.setup.Participants()
	maxAbs := pp.MaxAbsInput(3)
	inputs := map[string][]int64{
		sites[0]: {maxAbs, -maxAbs, 7, 0},
		sites[1]: {maxAbs, -maxAbs, -10, 0},
		sites[2]: {maxAbs, -maxAbs, 2, -1},
	}
	agg, err := Sum(c.encryptAll(t, inputs)...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.decrypt(t, agg, []string{sites[2], sites[0]})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{3 * maxAbs, -3 * maxAbs, -1, -1}; !slices.Equal(got, want) {
		t.Errorf("sum = %v, want %v", got, want)
	}
}

func TestVectorLengths(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 3, 3)
	sites := c.setup.Participants()
	r := rand.New(rand.NewPCG(3, 4))
	for _, length := range []int{1, pp.Slots() - 1, pp.Slots(), 2 * pp.Slots()} {
		inputs := map[string][]int64{}
		want := make([]int64, length)
		for _, s := range sites {
			inputs[s] = randomVector(r, length, 1<<50)
			for j, v := range inputs[s] {
				want[j] += v
			}
		}
		agg, err := Sum(c.encryptAll(t, inputs)...)
		if err != nil {
			t.Fatal(err)
		}
		if k := agg.NumCiphertexts(); k != (length+pp.Slots()-1)/pp.Slots() {
			t.Errorf("%d values in %d ciphertexts", length, k)
		}
		got, err := c.decrypt(t, agg, sites)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("length %d: sum differs", length)
		}
	}
}

// TestCanonical checks that fresh and summed ciphertexts hold fully reduced
// coefficients, so in-memory Sum (which assumes reduced inputs) is exact.
func TestCanonical(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 3, 2)
	enc, err := NewEncryptor(c.pk)
	if err != nil {
		t.Fatal(err)
	}
	var cts []*Ciphertext
	for i := 0; i < 3; i++ {
		ct, err := enc.Encrypt(make([]int64, pp.Slots()))
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
	}
	sum, err := Sum(cts...)
	if err != nil {
		t.Fatal(err)
	}
	q := pp.BGV().Q()
	for _, x := range append(cts, sum) {
		for _, ct := range x.cts {
			for _, p := range ct.Value {
				for i, row := range p.Coeffs {
					if !allBelow(row, q[i]) {
						t.Fatalf("coefficient of limb %d not reduced", i)
					}
				}
			}
		}
	}
}
