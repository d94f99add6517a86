package he

import (
	"crypto/rand"
	"flag"
	"fmt"
	"testing"
)

var flagParams = flag.String("he.params", TestPN11QP120.Name, "parameter set for the unit tests (e.g. PN13QP120)")

// testParams returns the parameter set selected by -he.params (insecure and
// fast by default).
func testParams(tb testing.TB) *Parameters {
	tb.Helper()
	set, err := LookupParamSet(*flagParams)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := NewParameters(set)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func siteNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("site-%02d", i)
	}
	return out
}

func randomSeed(tb testing.TB) []byte {
	tb.Helper()
	seed := make([]byte, MinSeedLen)
	if _, err := rand.Read(seed); err != nil {
		tb.Fatal(err)
	}
	return seed
}

// cluster is a completed in-process key set-up.
type cluster struct {
	setup   *Setup
	pk      *PublicKey
	parties map[string]*Party
	keys    map[string]*KeyShare
}

// newCluster runs the whole set-up for n sites with threshold t, every
// share going through its byte encoding.
func newCluster(tb testing.TB, pp *Parameters, n, t int) *cluster {
	tb.Helper()
	sites := siteNames(n)
	setup, err := NewSetup(pp, sites, t, randomSeed(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c := &cluster{setup: setup, parties: map[string]*Party{}, keys: map[string]*KeyShare{}}
	agg, err := NewPublicKeyAggregator(setup)
	if err != nil {
		tb.Fatal(err)
	}
	outbox := map[string]map[string][]byte{} // to -> from -> share
	for _, s := range sites {
		p, err := NewParty(setup, s)
		if err != nil {
			tb.Fatal(err)
		}
		c.parties[s] = p
		share, err := p.PublicKeyShare()
		if err != nil {
			tb.Fatal(err)
		}
		if err := agg.Add(s, share); err != nil {
			tb.Fatal(err)
		}
		ts, err := p.ThresholdShares()
		if err != nil {
			tb.Fatal(err)
		}
		if len(ts) != n-1 {
			tb.Fatalf("ThresholdShares() gave %d shares, want %d", len(ts), n-1)
		}
		for to, b := range ts {
			if outbox[to] == nil {
				outbox[to] = map[string][]byte{}
			}
			outbox[to][s] = b
		}
	}
	pk, err := agg.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	pkb, err := pk.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	if c.pk, err = UnmarshalPublicKey(setup, pkb); err != nil {
		tb.Fatal(err)
	}
	for _, s := range sites {
		p := c.parties[s]
		for from, b := range outbox[s] {
			if err := p.ReceiveThresholdShare(from, b); err != nil {
				tb.Fatal(err)
			}
		}
		ks, err := p.Finish()
		if err != nil {
			tb.Fatal(err)
		}
		kb, err := ks.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		if c.keys[s], err = UnmarshalKeyShare(setup, s, kb); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// encryptAll encrypts each site's vector and returns the round-tripped
// ciphertexts: every other site through Encrypt and MarshalBinary, the
// others through EncryptMarshal (whose digest must be that of its bytes).
func (c *cluster) encryptAll(tb testing.TB, inputs map[string][]int64) []*Ciphertext {
	tb.Helper()
	var out []*Ciphertext
	for i, s := range c.setup.Participants() {
		v, ok := inputs[s]
		if !ok {
			continue
		}
		enc, err := NewEncryptor(c.pk)
		if err != nil {
			tb.Fatal(err)
		}
		var b []byte
		if i%2 == 0 {
			ct, err := enc.Encrypt(v)
			if err != nil {
				tb.Fatal(err)
			}
			if b, err = ct.MarshalBinary(); err != nil {
				tb.Fatal(err)
			}
		} else {
			var d [32]byte
			if b, d, err = enc.EncryptMarshal(v); err != nil {
				tb.Fatal(err)
			}
			if d != Digest(b) {
				tb.Fatalf("EncryptMarshal digest %x, want %x", d[:8], Digest(b))
			}
		}
		ct2, err := UnmarshalCiphertext(c.setup, b)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ct2)
	}
	return out
}

// decrypt has each decryptor produce a share (through bytes) and combines:
// the first decryptor from the aggregate itself, the others from its mask
// sent as bytes (as decryptors receive it), hashed by UnmarshalMask or
// passed in with UnmarshalMaskHashed.
func (c *cluster) decrypt(tb testing.TB, agg *Ciphertext, decryptors []string) ([]int64, error) {
	tb.Helper()
	mb, err := agg.Mask().MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	shares := map[string]*DecryptionShare{}
	for i, s := range decryptors {
		var d *DecryptionShare
		var m *Mask
		switch i % 3 {
		case 0:
			d, err = c.keys[s].DecryptionShare(agg, decryptors)
		case 1:
			if m, err = UnmarshalMask(c.setup, mb); err == nil {
				d, err = c.keys[s].DecryptionShareMask(m, decryptors)
			}
		case 2:
			if m, err = UnmarshalMaskHashed(c.setup, mb, Digest(mb)); err == nil {
				d, err = c.keys[s].DecryptionShareMask(m, decryptors)
			}
		}
		if err != nil {
			tb.Fatal(err)
		}
		b, err := d.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		if shares[s], err = UnmarshalDecryptionShare(c.setup, b); err != nil {
			tb.Fatal(err)
		}
	}
	return Combine(agg, decryptors, shares)
}
