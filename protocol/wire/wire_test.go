package wire

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// samples are valid messages of every type; fuzz seeds and round-trip
// cases come from here.
func samples() []Message {
	body := []byte("ciphertext bytes")
	bh := NewBlobHeader(42, "ciphertext", body)
	return []Message{
		&Hello{ProtocolVersion: ProtocolVersion, SiteID: "site-a", Kind: KindRaft},
		&Hello{ProtocolVersion: 1 << 40, SiteID: strings.Repeat("z", MaxSiteID), Kind: 200},
		&JoinRequest{SiteID: "site-b", RaftAddr: "127.0.0.1:7001", Voter: true},
		&JoinRequest{SiteID: "b", RaftAddr: "[::1]:1"},
		&JoinResponse{OK: true, LeaderSite: "site-a", LeaderAddr: "127.0.0.1:7000"},
		&JoinResponse{Error: "not the leader: ask site-a", LeaderSite: ""},
		&Error{Code: CodeUnauthorized, Text: "site \"x\" is not a member"},
		&Error{Code: 1 << 62, Text: ""},
		&bh,
		&BlobHeader{RoundID: 0, Kind: "decryption-share.v1_2", Length: MaxBlobLength},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range samples() {
		payload := m.Append(nil)
		got, err := New(m.Type())
		if err != nil {
			t.Fatal(err)
		}
		if err := got.Parse(payload); err != nil {
			t.Fatalf("%s.Parse(Append(%+v)) = %v", m.Type(), m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s round trip = %+v, want %+v", m.Type(), got, m)
		}
		// Frame round trip, followed by other bytes.
		frame, err := AppendFrame(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		fm, rest, err := ParseFrame(append(frame, 0xEE))
		if err != nil || !reflect.DeepEqual(fm, m) || !bytes.Equal(rest, []byte{0xEE}) {
			t.Errorf("ParseFrame(%s) = %+v, %x, %v", m.Type(), fm, rest, err)
		}
		// Every strict prefix of the payload is rejected.
		for i := 0; i < len(payload); i++ {
			p, _ := New(m.Type())
			if err := p.Parse(payload[:i]); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%s.Parse(prefix %d/%d) = %v, want ErrMalformed", m.Type(), i, len(payload), err)
			}
		}
		// Trailing bytes are rejected.
		p, _ := New(m.Type())
		if err := p.Parse(append(payload, 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s.Parse(payload+1) = %v, want ErrMalformed", m.Type(), err)
		}
	}
}

func TestReadFrameStream(t *testing.T) {
	var buf bytes.Buffer
	for _, m := range samples() {
		if err := WriteFrame(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("raw tail")
	r := &countingReader{r: &buf}
	for _, want := range samples() {
		got, err := ReadFrame(r, 0)
		if err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ReadFrame = %+v, want %+v", got, want)
		}
	}
	// ReadFrame must not have consumed the raw bytes after the frames.
	if rest, _ := io.ReadAll(r); string(rest) != "raw tail" {
		t.Errorf("after frames: %q, want %q", rest, "raw tail")
	}
	if _, err := ReadFrame(r, 0); err != io.EOF {
		t.Errorf("ReadFrame at EOF = %v, want io.EOF", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestFrameErrors(t *testing.T) {
	hello, _ := AppendFrame(nil, &Hello{ProtocolVersion: 1, SiteID: "a", Kind: KindBulk})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), hello...)) }
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"bad magic", mod(func(b []byte) []byte { b[0] = 'G'; return b }), ErrMalformed},
		{"version 2", mod(func(b []byte) []byte { b[1] = 2; return b }), ErrVersion},
		{"unknown type", mod(func(b []byte) []byte { b[2] = 0x7f; return b }), ErrUnknownType},
		{"truncated", hello[:len(hello)-1], ErrMalformed},
		{"header only", hello[:3], ErrMalformed},
		{"huge length", []byte{Magic, Version, byte(TypeHello), 0xff, 0xff, 0xff, 0xff, 0x0f}, ErrTooLarge},
		{"overlong varint", []byte{Magic, Version, byte(TypeError), 0x80, 0x00}, ErrMalformed},
		{"varint overflow", []byte{Magic, Version, byte(TypeError), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMalformed},
	}
	for _, c := range cases {
		if _, _, err := ParseFrame(c.frame); !errors.Is(err, c.want) {
			t.Errorf("ParseFrame(%s) = %v, want %v", c.name, err, c.want)
		}
		if _, err := ReadFrame(bytes.NewReader(c.frame), 0); !errors.Is(err, c.want) {
			t.Errorf("ReadFrame(%s) = %v, want %v", c.name, err, c.want)
		}
	}
	// The size limit is checked before reading the payload.
	big, _ := AppendFrame(nil, &Error{Code: 1, Text: strings.Repeat("x", 1000)})
	r := &countingReader{r: bytes.NewReader(big)}
	if _, err := ReadFrame(r, 100); !errors.Is(err, ErrTooLarge) || r.n > 8 {
		t.Errorf("ReadFrame(limit 100) = %v after %d bytes, want ErrTooLarge within the header", err, r.n)
	}
	var fe *FrameError
	if _, err := ReadFrame(bytes.NewReader(big), 100); !errors.As(err, &fe) || fe.Type != TypeError {
		t.Errorf("error %v is not a *FrameError of type Error", err)
	}
	// Oversized field.
	long := &Error{Code: 1, Text: strings.Repeat("x", MaxErrorText+1)}
	if err := new(Error).Parse(long.Append(nil)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse(long text) = %v, want ErrTooLarge", err)
	}
	// Oversized payload refused by AppendFrame.
	huge := &Error{Code: 1, Text: strings.Repeat("x", MaxPayload)}
	if b, err := AppendFrame([]byte{1}, huge); !errors.Is(err, ErrTooLarge) || len(b) != 1 {
		t.Errorf("AppendFrame(huge) = %d bytes, %v; want ErrTooLarge, b unchanged", len(b), err)
	}
	// Invalid field values.
	bad := []Message{
		&Hello{ProtocolVersion: 1, SiteID: "Bad", Kind: KindRaft},
		&Hello{ProtocolVersion: 1, SiteID: "a", Kind: 0},
		&JoinRequest{SiteID: "a", RaftAddr: ""},
		&JoinResponse{LeaderSite: "-x"},
		&BlobHeader{Kind: "Cipher Text"},
		&BlobHeader{Kind: "c", Length: MaxBlobLength + 1},
		&Error{Text: "\xff\xfe"},
	}
	for _, m := range bad {
		p, _ := New(m.Type())
		if err := p.Parse(m.Append(nil)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%+v) = %v, want ErrMalformed", m, err)
		}
	}
	// A bool that is not 0 or 1.
	jr := (&JoinRequest{SiteID: "a", RaftAddr: "x:1", Voter: true}).Append(nil)
	jr[len(jr)-1] = 2
	if err := new(JoinRequest).Parse(jr); !errors.Is(err, ErrMalformed) {
		t.Errorf("Parse(bool=2) = %v, want ErrMalformed", err)
	}
}

func TestReadMessage(t *testing.T) {
	var buf bytes.Buffer
	WriteFrame(&buf, &JoinResponse{OK: true})
	WriteFrame(&buf, &Error{Code: CodeNotLeader, Text: "ask a"})
	WriteFrame(&buf, &Hello{ProtocolVersion: 1, SiteID: "a", Kind: KindRaft})
	var jr JoinResponse
	if err := ReadMessage(&buf, &jr); err != nil || !jr.OK {
		t.Fatalf("ReadMessage = %+v, %v", jr, err)
	}
	var pe *Error
	if err := ReadMessage(&buf, &jr); !errors.As(err, &pe) || pe.Code != CodeNotLeader {
		t.Errorf("ReadMessage(error frame) = %v, want *Error not leader", err)
	}
	if err := ReadMessage(&buf, &jr); !errors.Is(err, ErrUnexpected) {
		t.Errorf("ReadMessage(hello) = %v, want ErrUnexpected", err)
	}
}

func TestBlob(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10_000)
	h := NewBlobHeader(7, "ciphertext", body)
	var buf bytes.Buffer
	if err := WriteBlob(&buf, &h, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("next")
	gh, r, err := ReadBlobHeader(&buf, 0)
	if err != nil || *gh != h {
		t.Fatalf("ReadBlobHeader = %+v, %v", gh, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("blob body: %d bytes, %v", len(got), err)
	}
	if buf.String() != "next" {
		t.Errorf("blob reader consumed past the body: left %q", buf.String())
	}

	// Corrupted body.
	buf.Reset()
	WriteBlob(&buf, &h, bytes.NewReader(body))
	raw := buf.Bytes()
	raw[len(raw)-1] ^= 1
	_, r, _ = ReadBlobHeader(bytes.NewReader(raw), 0)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrBlobIntegrity) {
		t.Errorf("corrupt body: %v, want ErrBlobIntegrity", err)
	}
	// Truncated body.
	_, r, _ = ReadBlobHeader(bytes.NewReader(raw[:len(raw)-10]), 0)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrBlobIntegrity) {
		t.Errorf("short body: %v, want ErrBlobIntegrity", err)
	}
	// Size limit.
	if _, _, err := ReadBlobHeader(bytes.NewReader(raw), 100); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadBlobHeader(limit) = %v, want ErrTooLarge", err)
	}
	// Short source on the writing side.
	if err := WriteBlob(io.Discard, &h, bytes.NewReader(body[:10])); !errors.Is(err, ErrBlobIntegrity) {
		t.Errorf("WriteBlob(short) = %v, want ErrBlobIntegrity", err)
	}
	if h.SHA256 != sha256.Sum256(body) {
		t.Error("NewBlobHeader digest wrong")
	}
	// An in-memory body goes out in one Write after the header's; a longer
	// one is cut at Length (and then copied in steps).
	var cw countingWriter
	if err := WriteBlob(&cw, &h, bytes.NewReader(body)); err != nil || cw.writes != 2 || cw.n != int(h.Length)+frameLen(t, &h) {
		t.Errorf("WriteBlob(in memory) = %v in %d writes of %d bytes, want 2 writes", err, cw.writes, cw.n)
	}
	cw = countingWriter{}
	long := append(slices.Clone(body), "trailing"...)
	if err := WriteBlob(&cw, &h, bytes.NewReader(long)); err != nil || cw.n != int(h.Length)+frameLen(t, &h) {
		t.Errorf("WriteBlob(longer body) = %v, %d bytes, want %d", err, cw.n, int(h.Length)+frameLen(t, &h))
	}
}

type countingWriter struct{ writes, n int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	w.n += len(p)
	return len(p), nil
}

func frameLen(t *testing.T, m Message) int {
	t.Helper()
	b, err := AppendFrame(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func BenchmarkAppendParseFrame(b *testing.B) {
	m := &JoinRequest{SiteID: "site-b", RaftAddr: "127.0.0.1:7001", Voter: true}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendFrame(buf[:0], m)
		if _, _, err := ParseFrame(buf); err != nil {
			b.Fatal(err)
		}
	}
}
