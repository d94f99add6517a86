package transport_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-fed/strata/protocol/internal/testfed"
	"github.com/strata-fed/strata/protocol/transport"
	"github.com/strata-fed/strata/protocol/wire"
)

// tapRecord is one Config.SendTap call.
type tapRecord struct {
	peer string
	kind transport.StreamKind
	data []byte
}

// recorder collects SendTap calls; safe for concurrent use.
type recorder struct {
	mu   sync.Mutex
	recs []tapRecord
}

func (r *recorder) tap(peer string, kind transport.StreamKind, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, tapRecord{peer, kind, bytes.Clone(p)})
}

// sent returns everything tapped for peer and kind, concatenated.
func (r *recorder) sent(peer string, kind transport.StreamKind) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []byte
	for _, rec := range r.recs {
		if rec.peer == peer && rec.kind == kind {
			out = append(out, rec.data...)
		}
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = nil
}

// TestSendTapSeesExactlyWhatThePeerReads opens one stream of every kind from
// a to b, sends random data in uneven writes each way, and checks that each
// side's SendTap saw exactly the bytes the other side read — plus, on the
// opener, the Hello preamble the transport wrote itself — attributed to the
// right peer and kind. Connection closes show their reason text (KindNone):
// ClosePeer's and an unauthorized peer's refusal.
func TestSendTapSeesExactlyWhatThePeerReads(t *testing.T) {
	var ra, rb recorder
	fed := testfed.New(t)
	ca := fed.Config(t, "a", nil, testfed.NewLog(t))
	cb := fed.Config(t, "b", nil, testfed.NewLog(t))
	ca.Authorize = testfed.Allow("a", "b")
	cb.Authorize = testfed.Allow("a", "b")
	ca.SendTap, cb.SendTap = ra.tap, rb.tap
	a, b := testfed.Listen(t, ca), testfed.Listen(t, cb)
	ctx := ctxT(t, 20*time.Second)

	chunks := func(n int) [][]byte {
		var out [][]byte
		for size := 1; n > 0; size = size*7 + 3 {
			size = min(size, n)
			c := make([]byte, size)
			rand.Read(c)
			out = append(out, c)
			n -= size
		}
		return out
	}
	for _, kind := range wire.Kinds() {
		ra.reset()
		rb.reset()
		toB, toA := chunks(300_000), chunks(70_000)
		wantB, wantA := bytes.Join(toB, nil), bytes.Join(toA, nil)
		readByB := make(chan []byte, 1)
		go func() {
			c, _, err := b.Accept(ctx, kind)
			if err != nil {
				t.Errorf("Accept(%s): %v", kind, err)
				readByB <- nil
				return
			}
			defer c.Close()
			got := make([]byte, len(wantB))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Errorf("b read: %v", err)
			}
			for _, p := range toA {
				if _, err := c.Write(p); err != nil {
					t.Errorf("b write: %v", err)
				}
			}
			readByB <- got
		}()
		c, _, err := a.Open(ctx, b.AdvertiseAddr(), kind)
		if err != nil {
			t.Fatalf("Open(%s): %v", kind, err)
		}
		for _, p := range toB {
			if _, err := c.Write(p); err != nil {
				t.Fatalf("a write: %v", err)
			}
		}
		readByA := make([]byte, len(wantA))
		if _, err := io.ReadFull(c, readByA); err != nil {
			t.Fatalf("a read: %v", err)
		}
		c.Close()
		gotB := <-readByB
		if !bytes.Equal(gotB, wantB) || !bytes.Equal(readByA, wantA) {
			t.Fatalf("%s: the streams did not carry the data", kind)
		}

		hello, err := wire.AppendFrame(nil, &wire.Hello{ProtocolVersion: wire.ProtocolVersion, SiteID: "a", Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ra.sent("b", kind), append(hello, gotB...); !bytes.Equal(got, want) {
			t.Errorf("%s: a's tap saw %d bytes, want the %d-byte Hello and the %d bytes b read (equal: %v)",
				kind, len(got), len(hello), len(gotB), bytes.Equal(got, want))
		}
		if got := rb.sent("a", kind); !bytes.Equal(got, readByA) {
			t.Errorf("%s: b's tap saw %d bytes, want exactly the %d bytes a read", kind, len(got), len(readByA))
		}
		for _, r := range []*recorder{&ra, &rb} {
			r.mu.Lock()
			for _, rec := range r.recs {
				if rec.kind != kind {
					t.Errorf("%s exchange: tap call for peer %q kind %s", kind, rec.peer, rec.kind)
				}
			}
			r.mu.Unlock()
		}
	}

	// A connection close sends its reason.
	ra.reset()
	if n := a.ClosePeer("b", "dropped for the tap test"); n == 0 {
		t.Fatal("ClosePeer closed nothing")
	}
	if got := string(ra.sent("b", transport.KindNone)); got != "dropped for the tap test" {
		t.Errorf("a's tap saw close reason %q", got)
	}
	// So does a refusal, before the refused site is a known peer.
	cm := fed.Config(t, "mallory", nil, testfed.NewLog(t))
	m := testfed.Listen(t, cm)
	if c, _, err := m.Open(ctx, b.AdvertiseAddr(), transport.KindControl); err == nil {
		useStream(c)
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(rb.sent("mallory", transport.KindNone)), "not authorized") {
		if time.Now().After(deadline) {
			t.Fatalf("b's tap saw no refusal of mallory; saw %q", rb.sent("mallory", transport.KindNone))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
