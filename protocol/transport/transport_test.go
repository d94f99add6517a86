package transport_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/strata-fed/strata/protocol/internal/testfed"
	"github.com/strata-fed/strata/protocol/transport"
	"github.com/strata-fed/strata/protocol/wire"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pair starts two authorized nodes a and b.
func pair(t *testing.T, mod func(*transport.Config)) (a, b *transport.Transport, la, lb *testfed.Log) {
	t.Helper()
	fed := testfed.New(t)
	la, lb = testfed.NewLog(t), testfed.NewLog(t)
	ca := fed.Config(t, "a", nil, la)
	cb := fed.Config(t, "b", nil, lb)
	ca.Authorize = testfed.Allow("a", "b")
	cb.Authorize = testfed.Allow("a", "b")
	if mod != nil {
		mod(&ca)
		mod(&cb)
	}
	return testfed.Listen(t, ca), testfed.Listen(t, cb), la, lb
}

// echo serves one accepted stream of kind on tr: it reads n bytes and writes
// them back.
func echo(t *testing.T, ctx context.Context, tr *transport.Transport, kind transport.StreamKind, n int) <-chan transport.PeerInfo {
	t.Helper()
	ch := make(chan transport.PeerInfo, 1)
	go func() {
		c, p, err := tr.Accept(ctx, kind)
		if err != nil {
			t.Errorf("Accept(%s): %v", kind, err)
			close(ch)
			return
		}
		defer c.Close()
		ch <- p
		data := make([]byte, n)
		if _, err := io.ReadFull(c, data); err != nil {
			t.Errorf("echo read: %v", err)
			return
		}
		if _, err := c.Write(data); err != nil {
			t.Errorf("echo write: %v", err)
		}
	}()
	return ch
}

// roundTrip writes msg and reads len(msg) bytes back.
func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	return string(buf)
}

func TestOpenAcceptAndConnectionReuse(t *testing.T) {
	a, b, _, _ := pair(t, nil)
	ctx := ctxT(t, 20*time.Second)

	for _, kind := range wire.Kinds() {
		got := make(chan string, 1)
		go func() {
			c, p, err := b.Accept(ctx, kind)
			if err != nil {
				t.Errorf("Accept(%s): %v", kind, err)
				got <- ""
				return
			}
			defer c.Close()
			if p.SiteID != "a" || !p.Inbound {
				t.Errorf("Accept(%s) peer = %+v, want site a inbound", kind, p)
			}
			if s := c.(*transport.Stream); s.Kind() != kind || s.Peer().SiteID != "a" {
				t.Errorf("stream kind %s peer %+v", s.Kind(), s.Peer())
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Errorf("read: %v", err)
			}
			c.Write(bytes.ToUpper(buf))
			got <- string(buf)
		}()
		c, p, err := a.Open(ctx, b.AdvertiseAddr(), kind)
		if err != nil {
			t.Fatalf("Open(%s): %v", kind, err)
		}
		if p.SiteID != "b" || p.Inbound {
			t.Errorf("Open peer = %+v, want site b outbound", p)
		}
		if reply := roundTrip(t, c, "hello"); reply != "HELLO" {
			t.Errorf("reply %q, want HELLO", reply)
		}
		c.Close()
		if s := <-got; s != "hello" {
			t.Errorf("%s: acceptor got %q", kind, s)
		}
	}
	// b dials a back: the inbound connection from a is reused.
	done := echo(t, ctx, a, transport.KindControl, 4)
	c, p, err := b.Open(ctx, a.AdvertiseAddr(), transport.KindControl)
	if err != nil {
		t.Fatalf("b.Open(a): %v", err)
	}
	if got := roundTrip(t, c, "back"); got != "back" {
		t.Errorf("got %q", got)
	}
	if !p.Inbound {
		t.Errorf("b.Open(a) used a new outbound connection; want the inbound one reused (peer %+v)", p)
	}
	c.Close()
	<-done
	if n, m := len(a.Peers()), len(b.Peers()); n != 1 || m != 1 {
		t.Errorf("connections a=%d b=%d, want one per peer", n, m)
	}
}

func TestManyStreamsDoNotLeak(t *testing.T) {
	// More sequential streams than MaxIncomingStreams: closed streams must
	// release their slot (Close cancels the read side).
	a, b, _, _ := pair(t, func(c *transport.Config) { c.MaxIncomingStreams = 8 })
	ctx := ctxT(t, 30*time.Second)
	go func() {
		for {
			c, _, err := b.Accept(ctx, transport.KindRaft)
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1)
				io.ReadFull(c, buf)
				c.Write(buf)
			}()
		}
	}()
	for i := 0; i < 40; i++ {
		c, _, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindRaft)
		if err != nil {
			t.Fatalf("stream %d: Open: %v", i, err)
		}
		if got := roundTrip(t, c, "x"); got != "x" {
			t.Fatalf("stream %d: got %q", i, got)
		}
		c.Close()
	}
}

func TestKindsAreIndependent(t *testing.T) {
	a, b, _, lb := pair(t, func(c *transport.Config) {
		c.QueueLen = 1
		c.AcceptTimeout = 2 * time.Second
	})
	ctx := ctxT(t, 30*time.Second)

	// Nobody accepts bulk streams on b, and several bulk streams flood b
	// with data nobody reads: their flow-control windows fill up.
	var wg sync.WaitGroup
	var floods []net.Conn
	for i := 0; i < 6; i++ {
		flood, _, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindBulk)
		if err != nil {
			t.Fatal(err)
		}
		floods = append(floods, flood)
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk := make([]byte, 64<<10)
			flood.SetWriteDeadline(time.Now().Add(2500 * time.Millisecond))
			for {
				if _, err := flood.Write(chunk); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let the windows fill
	// Raft streams still flow promptly.
	var slowest time.Duration
	for i := 0; i < 5; i++ {
		done := echo(t, ctx, b, transport.KindRaft, 4)
		start := time.Now()
		c, _, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindRaft)
		if err != nil {
			t.Fatal(err)
		}
		if got := roundTrip(t, c, "ping"); got != "ping" {
			t.Fatalf("got %q", got)
		}
		c.Close()
		<-done
		d := time.Since(start)
		if d > time.Second {
			t.Errorf("raft round trip took %v while bulk is stuck", d)
		}
		slowest = max(slowest, d)
	}
	t.Logf("slowest raft stream round trip next to stuck bulk streams: %v", slowest)
	// The bulk streams nobody accepted are reset after AcceptTimeout.
	if lb.WaitFor(10*time.Second, "nobody accepted it in time", "kind=bulk") == "" {
		t.Error("no log line for the reset bulk stream")
	}
	for _, f := range floods {
		f.Close()
	}
	wg.Wait()
}

func waitPeers(t *testing.T, tr *transport.Transport, n int, timeout time.Duration) []transport.PeerInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p := tr.Peers()
		if len(p) == n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d connections %+v, want %d", tr.SiteID(), len(p), p, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSimultaneousDialConverges(t *testing.T) {
	a, b, _, _ := pair(t, nil)
	ctx := ctxT(t, 20*time.Second)
	for _, tr := range []*transport.Transport{a, b} {
		go func() {
			for {
				c, _, err := tr.Accept(ctx, transport.KindControl)
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 2)
					io.ReadFull(c, buf)
					c.Write(buf)
				}()
			}
		}()
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		for _, d := range [][2]*transport.Transport{{a, b}, {b, a}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, _, err := d[0].Open(ctx, d[1].AdvertiseAddr(), transport.KindControl)
				if err != nil {
					t.Errorf("Open: %v", err)
					return
				}
				defer c.Close()
				if got := roundTrip(t, c, "hi"); got != "hi" {
					t.Errorf("got %q", got)
				}
			}()
		}
	}
	wg.Wait()
	// Whatever raced, each side ends with one connection: the same one.
	pa := waitPeers(t, a, 1, 5*time.Second)
	pb := waitPeers(t, b, 1, 5*time.Second)
	if pa[0].Inbound == pb[0].Inbound {
		t.Errorf("a and b kept different connections: a %+v, b %+v", pa[0], pb[0])
	}
	// ClosePeer drops it on both sides.
	if n := a.ClosePeer("b", "test"); n != 1 {
		t.Errorf("ClosePeer = %d, want 1", n)
	}
	waitPeers(t, b, 0, 5*time.Second)
}
