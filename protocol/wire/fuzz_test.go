package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// fuzzParse checks one message type: no panic on any input, errors are
// typed, and whatever parses re-encodes to the same bytes and round-trips.
func fuzzParse(f *testing.F, typ Type) {
	for _, m := range samples() {
		if m.Type() == typ {
			f.Add(m.Append(nil))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := New(typ)
		if err := m.Parse(b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Parse error %v is not typed", err)
			}
			return
		}
		if enc := m.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("Append(Parse(%x)) = %x: encoding not canonical", b, enc)
		}
		m2, _ := New(typ)
		if err := m2.Parse(m.Append(nil)); err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, m2, err)
		}
	})
}

func FuzzParseHello(f *testing.F)        { fuzzParse(f, TypeHello) }
func FuzzParseJoinRequest(f *testing.F)  { fuzzParse(f, TypeJoinRequest) }
func FuzzParseJoinResponse(f *testing.F) { fuzzParse(f, TypeJoinResponse) }
func FuzzParseError(f *testing.F)        { fuzzParse(f, TypeError) }
func FuzzParseBlobHeader(f *testing.F)   { fuzzParse(f, TypeBlobHeader) }

// FuzzReadFrame feeds arbitrary streams to the frame reader: no panic,
// typed errors, and frames that decode re-encode identically.
func FuzzReadFrame(f *testing.F) {
	for _, m := range samples() {
		b, _ := AppendFrame(nil, m)
		f.Add(b)
	}
	f.Add([]byte{Magic, Version, byte(TypeHello), 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		m, err := ReadFrame(r, 0)
		pm, rest, perr := ParseFrame(b)
		if (err == nil) != (perr == nil) {
			t.Fatalf("ReadFrame err %v, ParseFrame err %v disagree", err, perr)
		}
		if err != nil {
			for _, s := range []error{ErrMalformed, ErrTooLarge, ErrVersion, ErrUnknownType} {
				if errors.Is(err, s) {
					return
				}
			}
			if len(b) == 0 {
				return // io.EOF
			}
			t.Fatalf("ReadFrame error %v is not typed", err)
		}
		if !reflect.DeepEqual(m, pm) || r.Len() != len(rest) {
			t.Fatalf("ReadFrame and ParseFrame disagree: %+v/%d vs %+v/%d", m, r.Len(), pm, len(rest))
		}
		enc, err := AppendFrame(nil, m)
		if err != nil || !bytes.Equal(enc, b[:len(b)-len(rest)]) {
			t.Fatalf("AppendFrame(ReadFrame(%x)) = %x, %v", b, enc, err)
		}
	})
}
