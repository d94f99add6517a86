package he

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestNewSetupValidation(t *testing.T) {
	pp := testParams(t)
	seed := randomSeed(t)
	tooMany := siteNames(MaxParties + 1)
	cases := []struct {
		name  string
		sites []string
		thr   int
		seed  []byte
	}{
		{"no sites", nil, 1, seed},
		{"too many", tooMany, 2, seed},
		{"t=0", siteNames(3), 0, seed},
		{"t>N", siteNames(3), 4, seed},
		{"short seed", siteNames(3), 2, seed[:MinSeedLen-1]},
		{"duplicate", []string{"a", "b", "a"}, 2, seed},
		{"empty id", []string{"a", ""}, 1, seed},
	}
	for _, c := range cases {
		if _, err := NewSetup(pp, c.sites, c.thr, c.seed); !errors.Is(err, ErrSetup) {
			t.Errorf("NewSetup(%s) err = %v, want ErrSetup", c.name, err)
		}
	}
	s, err := NewSetup(pp, []string{"b", "a", "c"}, 2, seed)
	if err != nil {
		t.Fatal(err)
	}
	for i, site := range []string{"b", "a", "c"} {
		if pt, err := s.Point(site); err != nil || int(pt) != i+1 {
			t.Errorf("Point(%s) = %d, %v; want %d", site, pt, err, i+1)
		}
	}
	if _, err := s.Point("z"); !errors.Is(err, ErrSetup) {
		t.Errorf("Point(z) err = %v", err)
	}
	s2, _ := NewSetup(pp, []string{"a", "b", "c"}, 2, seed)
	s3, _ := NewSetup(pp, []string{"b", "a", "c"}, 2, seed)
	if s.Digest() == s2.Digest() || s.Digest() != s3.Digest() {
		t.Error("set-up digest must depend on the participant order and nothing else random")
	}
	if _, _, err := s.decryptors([]string{"a", "a"}); !errors.Is(err, ErrMismatch) {
		t.Errorf("decryptors(a,a) err = %v", err)
	}
	if _, _, err := s.decryptors([]string{"a", "b", "c"}); !errors.Is(err, ErrMismatch) {
		t.Errorf("decryptors(3 of t=2) err = %v", err)
	}
}

func TestSetupSteps(t *testing.T) {
	pp := testParams(t)
	sites := siteNames(3)
	setup, err := NewSetup(pp, sites, 2, randomSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	p0, err := NewParty(setup, sites[0])
	if err != nil {
		t.Fatal(err)
	}
	p1, err := NewParty(setup, sites[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewParty(setup, "stranger"); !errors.Is(err, ErrSetup) {
		t.Errorf("NewParty(stranger) err = %v", err)
	}

	// A restored party re-sends byte-identical threshold shares.
	secret, err := p0.MarshalSecret()
	if err != nil {
		t.Fatal(err)
	}
	r0, err := RestoreParty(setup, sites[0], secret)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p0.ThresholdShares()
	if err != nil {
		t.Fatal(err)
	}
	b, err := r0.ThresholdShares()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a[sites[1]], b[sites[1]]) || !bytes.Equal(a[sites[2]], b[sites[2]]) {
		t.Error("restored party's threshold shares differ")
	}
	if _, err := RestoreParty(setup, sites[1], secret); !errors.Is(err, ErrSetup) {
		t.Errorf("RestoreParty as another site err = %v", err)
	}

	// Receiving: wrong recipient, self, stranger, duplicates.
	if err := p1.ReceiveThresholdShare(sites[0], a[sites[2]]); !errors.Is(err, ErrMismatch) {
		t.Errorf("share addressed to another site: err = %v", err)
	}
	if err := p1.ReceiveThresholdShare(sites[2], a[sites[1]]); !errors.Is(err, ErrMismatch) {
		t.Errorf("share relabelled as from another site: err = %v", err)
	}
	if err := p1.ReceiveThresholdShare("stranger", a[sites[1]]); !errors.Is(err, ErrSetup) {
		t.Errorf("share from stranger: err = %v", err)
	}
	if err := p1.ReceiveThresholdShare(sites[1], a[sites[1]]); !errors.Is(err, ErrMismatch) {
		t.Errorf("share from self: err = %v", err)
	}
	if err := p1.ReceiveThresholdShare(sites[0], a[sites[1]]); err != nil {
		t.Fatal(err)
	}
	if err := p1.ReceiveThresholdShare(sites[0], b[sites[1]]); err != nil {
		t.Errorf("identical re-send: err = %v", err)
	}
	p0b, err := NewParty(setup, sites[0]) // a different secret
	if err != nil {
		t.Fatal(err)
	}
	c, err := p0b.ThresholdShares()
	if err != nil {
		t.Fatal(err)
	}
	if err := p1.ReceiveThresholdShare(sites[0], c[sites[1]]); !errors.Is(err, ErrDuplicate) {
		t.Errorf("conflicting second share: err = %v, want ErrDuplicate", err)
	}
	if got := p1.Missing(); !slices.Equal(got, []string{sites[2]}) {
		t.Errorf("Missing() = %v, want [%s]", got, sites[2])
	}
	if _, err := p1.Finish(); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Finish() before all shares: err = %v, want ErrIncomplete", err)
	}

	// Public key aggregation.
	agg, err := NewPublicKeyAggregator(setup)
	if err != nil {
		t.Fatal(err)
	}
	s0, err := p0.PublicKeyShare()
	if err != nil {
		t.Fatal(err)
	}
	if err := agg.Add(sites[1], s0); !errors.Is(err, ErrMismatch) {
		t.Errorf("public key share under another name: err = %v", err)
	}
	if err := agg.Add(sites[0], s0); err != nil {
		t.Fatal(err)
	}
	if err := agg.Add(sites[0], s0); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second public key share: err = %v", err)
	}
	if _, err := agg.PublicKey(); !errors.Is(err, ErrIncomplete) {
		t.Errorf("PublicKey() with 1 of 3 shares: err = %v", err)
	}
	other, err := NewSetup(pp, sites, 2, randomSeed(t))
	if err != nil {
		t.Fatal(err)
	}
	aggOther, err := NewPublicKeyAggregator(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := aggOther.Add(sites[0], s0); !errors.Is(err, ErrSetup) {
		t.Errorf("share of another set-up: err = %v", err)
	}
}

// TestRoundTrips checks that every encoded type decodes to an object that
// re-encodes to the same bytes (and so the same digest), and that each
// decoder rejects every other kind.
func TestRoundTrips(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 3, 2)
	sites := c.setup.Participants()
	p := c.parties[sites[0]]

	enc, err := NewEncryptor(c.pk)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := enc.Encrypt(make([]int64, pp.Slots()+3))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.keys[sites[0]].DecryptionShare(ct, sites[:2])
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := p.MarshalSecret()
	pks, _ := p.PublicKeyShare()
	ts, _ := p.ThresholdShares()
	pkb, _ := c.pk.MarshalBinary()
	ksb, _ := c.keys[sites[0]].MarshalBinary()
	ctb, _ := ct.MarshalBinary()
	dsb, _ := ds.MarshalBinary()
	mb, _ := ct.Mask().MarshalBinary()

	type codec struct {
		name string
		b    []byte
		dec  func([]byte) ([]byte, error)
	}
	codecs := []codec{
		{"party secret", secret, func(b []byte) ([]byte, error) {
			r, err := RestoreParty(c.setup, sites[0], b)
			if err != nil {
				return nil, err
			}
			return r.MarshalSecret()
		}},
		{"public key share", pks, func(b []byte) ([]byte, error) {
			a, err := NewPublicKeyAggregator(c.setup)
			if err != nil {
				return nil, err
			}
			return b, a.Add(sites[0], b)
		}},
		{"threshold share", ts[sites[1]], func(b []byte) ([]byte, error) {
			q, err := NewParty(c.setup, sites[1])
			if err != nil {
				return nil, err
			}
			if err := q.ReceiveThresholdShare(sites[0], b); err != nil {
				return nil, err
			}
			s := q.received[0]
			w := newWriter(pp, kindThresholdShare, thresholdShareLen(pp))
			w.digest(c.setup.digest)
			w.u32(0)
			w.u32(1)
			w.polyQP(pp, s.Poly)
			return w.b, nil
		}},
		{"public key", pkb, func(b []byte) ([]byte, error) {
			k, err := UnmarshalPublicKey(c.setup, b)
			if err != nil {
				return nil, err
			}
			if !k.pk.Equal(c.pk.pk) {
				t.Error("public key differs after round trip")
			}
			return k.MarshalBinary()
		}},
		{"key share", ksb, func(b []byte) ([]byte, error) {
			k, err := UnmarshalKeyShare(c.setup, sites[0], b)
			if err != nil {
				return nil, err
			}
			return k.MarshalBinary()
		}},
		{"ciphertext", ctb, func(b []byte) ([]byte, error) {
			x, err := UnmarshalCiphertext(c.setup, b)
			if err != nil {
				return nil, err
			}
			if x.Len() != ct.Len() || x.Count() != 1 || x.NumCiphertexts() != 2 {
				t.Errorf("ciphertext round trip: len %d count %d k %d", x.Len(), x.Count(), x.NumCiphertexts())
			}
			d1, _ := x.Digest()
			d2, _ := ct.Digest()
			if d1 != d2 || d1 != Digest(b) {
				t.Error("ciphertext digest differs after round trip")
			}
			return x.MarshalBinary()
		}},
		{"mask", mb, func(b []byte) ([]byte, error) {
			x, err := UnmarshalMask(c.setup, b)
			if err != nil {
				return nil, err
			}
			if x.Len() != ct.Len() || x.Count() != 1 || len(x.c1) != 2 {
				t.Errorf("mask round trip: len %d count %d k %d", x.Len(), x.Count(), len(x.c1))
			}
			if x.Digest() != ct.Mask().Digest() || x.Digest() != Digest(b) {
				t.Error("mask digest differs after round trip")
			}
			return x.MarshalBinary()
		}},
		{"decryption share", dsb, func(b []byte) ([]byte, error) {
			x, err := UnmarshalDecryptionShare(c.setup, b)
			if err != nil {
				return nil, err
			}
			d1, _ := x.Digest()
			d2, _ := ds.Digest()
			if d1 != d2 || x.MaskDigest() != ds.MaskDigest() {
				t.Error("decryption share digest differs after round trip")
			}
			return x.MarshalBinary()
		}},
	}
	for _, cd := range codecs {
		got, err := cd.dec(cd.b)
		if err != nil {
			t.Errorf("%s: decode: %v", cd.name, err)
			continue
		}
		if !bytes.Equal(got, cd.b) {
			t.Errorf("%s: re-encoding differs", cd.name)
		}
		for _, other := range codecs {
			if other.name == cd.name {
				continue
			}
			if _, err := cd.dec(other.b); err == nil {
				t.Errorf("%s decoder accepted a %s", cd.name, other.name)
			}
		}
		// Garbage: truncations, a flipped magic, an out-of-range coefficient,
		// random bytes of the right length, and an appended byte.
		bad := [][]byte{nil, cd.b[:headerLen-1], cd.b[:headerLen], cd.b[:len(cd.b)-1], append(slices.Clone(cd.b), 0)}
		flip := slices.Clone(cd.b)
		flip[0] ^= 0xff
		bad = append(bad, flip)
		high := slices.Clone(cd.b)
		for i := len(high) - 8; i < len(high); i++ {
			high[i] = 0xff
		}
		bad = append(bad, high)
		random := slices.Clone(cd.b)
		for i := headerLen; i < len(random); i++ {
			random[i] = byte(i*131 + 7)
		}
		bad = append(bad, random)
		for i, b := range bad {
			if _, err := cd.dec(b); err == nil {
				t.Errorf("%s: garbage %d accepted", cd.name, i)
			}
		}
	}
}

func TestGarbageErrors(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 3, 2)
	cases := map[string][]byte{
		"empty":   {},
		"header":  append(append([]byte("STHE"), 1, byte(kindCiphertext)), make([]byte, 8)...),
		"huge":    append(newWriter(pp, kindCiphertext, 0).b, make([]byte, digestLen+12)...),
		"version": append([]byte("STHE"), 9, byte(kindCiphertext), 0, 0, 0, 0, 0, 0, 0, 0),
	}
	// A ciphertext header claiming MaxValues+1 values with no body.
	w := newWriter(pp, kindCiphertext, 0)
	w.digest(c.setup.digest)
	w.u64(MaxValues + 1)
	w.u32(1)
	cases["too long"] = w.b
	w = newWriter(pp, kindCiphertext, 0)
	w.digest(c.setup.digest)
	w.u64(1 << 20)
	w.u32(1)
	cases["short body"] = w.b
	w = newWriter(pp, kindMask, 0)
	w.digest(c.setup.digest)
	w.u64(1 << 20)
	w.u32(1)
	cases["short mask"] = w.b
	w = newWriter(pp, kindMask, 0)
	w.digest(c.setup.digest)
	w.u64(1)
	w.u32(4) // more contributions than participants
	cases["mask count"] = append(w.b, make([]byte, polyLenQ(pp))...)
	w = newWriter(pp, kindDecryptionShare, 0)
	w.digest(c.setup.digest)
	w.digest([32]byte{})
	w.digest([32]byte{})
	w.u32(1 << 31)
	cases["share count"] = w.b
	for name, b := range cases {
		if _, err := UnmarshalCiphertext(c.setup, b); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSetup) {
			t.Errorf("UnmarshalCiphertext(%s) err = %v", name, err)
		}
		if _, err := UnmarshalDecryptionShare(c.setup, b); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSetup) {
			t.Errorf("UnmarshalDecryptionShare(%s) err = %v", name, err)
		}
		if _, err := UnmarshalMask(c.setup, b); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSetup) {
			t.Errorf("UnmarshalMask(%s) err = %v", name, err)
		}
		if _, err := UnmarshalPublicKey(c.setup, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalPublicKey(%s) err = %v", name, err)
		}
		if _, err := UnmarshalKeyShare(c.setup, "site-00", b); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalKeyShare(%s) err = %v", name, err)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	pp := MustParameters(TestPN11QP120)
	c := newCluster(f, pp, 3, 2)
	enc, err := NewEncryptor(c.pk)
	if err != nil {
		f.Fatal(err)
	}
	ct, err := enc.Encrypt([]int64{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	ds, err := c.keys["site-00"].DecryptionShare(ct, []string{"site-00", "site-01"})
	if err != nil {
		f.Fatal(err)
	}
	ctb, _ := ct.MarshalBinary()
	dsb, _ := ds.MarshalBinary()
	pkb, _ := c.pk.MarshalBinary()
	mb, _ := ct.Mask().MarshalBinary()
	f.Add(ctb)
	f.Add(dsb)
	f.Add(pkb)
	f.Add(mb)
	f.Fuzz(func(t *testing.T, b []byte) {
		if x, err := UnmarshalCiphertext(c.setup, b); err == nil {
			if y, _ := x.MarshalBinary(); !bytes.Equal(y, b) {
				t.Error("ciphertext re-encoding differs")
			}
		}
		if x, err := UnmarshalDecryptionShare(c.setup, b); err == nil {
			if y, _ := x.MarshalBinary(); !bytes.Equal(y, b) {
				t.Error("decryption share re-encoding differs")
			}
		}
		if x, err := UnmarshalMask(c.setup, b); err == nil {
			if y, _ := x.MarshalBinary(); !bytes.Equal(y, b) {
				t.Error("mask re-encoding differs")
			}
		}
		_, _ = UnmarshalPublicKey(c.setup, b)
		_, _ = UnmarshalKeyShare(c.setup, "site-00", b)
		_, _ = RestoreParty(c.setup, "site-00", b)
	})
}
