package he

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestAccumulator(t *testing.T) {
	pp := testParams(t)
	c := newCluster(t, pp, 3, 2)
	sites := c.setup.Participants()
	length := pp.Slots() + 5
	enc, err := NewEncryptor(c.pk)
	if err != nil {
		t.Fatal(err)
	}
	var wire [][]byte
	var cts []*Ciphertext
	want := make([]int64, length)
	for i := range sites {
		v := make([]int64, length)
		for j := range v {
			v[j] = int64((i+1)*(j+1)) - 1000
			want[j] += v[j]
		}
		ct, err := enc.Encrypt(v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ct.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
		wire = append(wire, b)
	}
	acc, err := NewAccumulator(c.setup, length)
	if err != nil {
		t.Fatal(err)
	}
	// Rejections leave the aggregate unchanged.
	bad := slices.Clone(wire[0])
	for i := len(bad) - 8; i < len(bad); i++ {
		bad[i] = 0xff
	}
	if _, err := acc.Add(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("Add(out-of-range coefficient) err = %v, want ErrMalformed", err)
	}
	short, _ := enc.Encrypt([]int64{1})
	sb, _ := short.MarshalBinary()
	if _, err := acc.Add(sb); !errors.Is(err, ErrMalformed) {
		t.Errorf("Add(wrong length) err = %v, want ErrMalformed", err)
	}
	two, _ := Sum(cts[0], cts[1])
	tb, _ := two.MarshalBinary()
	if _, err := acc.Add(tb); !errors.Is(err, ErrMismatch) {
		t.Errorf("Add(a sum) err = %v, want ErrMismatch", err)
	}
	for i, b := range wire {
		d, err := acc.Add(b)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := cts[i].Digest(); d != want {
			t.Errorf("Add digest %x, want %x", d[:4], want[:4])
		}
		if i == 0 { // a partial add into a non-zero aggregate is rolled back
			bad2 := slices.Clone(wire[1])
			for i := len(bad2) - 8; i < len(bad2); i++ {
				bad2[i] = 0xff
			}
			if _, err := acc.Add(bad2); !errors.Is(err, ErrMalformed) {
				t.Errorf("Add(out-of-range coefficient) err = %v, want ErrMalformed", err)
			}
		}
	}
	if _, err := acc.Add(wire[1]); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Add(replay) err = %v, want ErrDuplicate", err)
	}
	if err := acc.AddHashed(wire[2], Digest(wire[2])); !errors.Is(err, ErrDuplicate) {
		t.Errorf("AddHashed(replay) err = %v, want ErrDuplicate", err)
	}
	if acc.Count() != 3 {
		t.Errorf("Count() = %d, want 3", acc.Count())
	}
	// Remove undoes an accepted contribution exactly (and only that):
	// removed and added again, the aggregate is unchanged.
	if err := acc.Remove(wire[1], Digest(wire[1])); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := acc.Remove(wire[1], Digest(wire[1])); !errors.Is(err, ErrMismatch) {
		t.Errorf("Remove twice err = %v, want ErrMismatch", err)
	}
	if err := acc.Remove(sb, Digest(sb)); !errors.Is(err, ErrMismatch) {
		t.Errorf("Remove(never added) err = %v, want ErrMismatch", err)
	}
	if acc.Count() != 2 {
		t.Errorf("Count() after Remove = %d, want 2", acc.Count())
	}
	if err := acc.AddHashed(wire[1], Digest(wire[1])); err != nil {
		t.Fatalf("AddHashed after Remove: %v", err)
	}
	agg, err := acc.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Add(wire[0]); err == nil {
		t.Error("Add after Aggregate succeeded")
	}
	sum, err := Sum(cts...)
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := agg.MarshalBinary()
	sumb, _ := sum.MarshalBinary()
	if !bytes.Equal(ab, sumb) {
		t.Error("Accumulator aggregate differs from Sum")
	}
	got, err := c.decrypt(t, agg, sites[1:])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Error("accumulated sum decrypts wrongly")
	}
	// More than N contributions.
	acc2, _ := NewAccumulator(c.setup, length)
	for _, b := range wire {
		if err := acc2.AddHashed(b, Digest(b)); err != nil {
			t.Fatal(err)
		}
	}
	agg2, err := acc2.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := agg2.MarshalBinary(); !bytes.Equal(b2, sumb) {
		t.Error("AddHashed aggregate differs from Sum")
	}
	acc2.done = false // reuse the full accumulator to test the participant bound
	extra, _ := enc.Encrypt(make([]int64, length))
	eb, _ := extra.MarshalBinary()
	if _, err := acc2.Add(eb); !errors.Is(err, ErrRange) {
		t.Errorf("Add beyond N err = %v, want ErrRange", err)
	}
	if _, err := NewAccumulator(c.setup, 0); !errors.Is(err, ErrMismatch) {
		t.Errorf("NewAccumulator(0) err = %v", err)
	}
	empty, _ := NewAccumulator(c.setup, 3)
	if _, err := empty.Aggregate(); !errors.Is(err, ErrIncomplete) {
		t.Errorf("empty Aggregate() err = %v", err)
	}
}
