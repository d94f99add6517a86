package transport_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/strata-fed/strata/protocol/internal/testfed"
	"github.com/strata-fed/strata/protocol/pki"
	"github.com/strata-fed/strata/protocol/transport"
	"github.com/strata-fed/strata/protocol/wire"
)

// expectNoAccept asserts that tr accepts no stream of any kind for d.
func expectNoAccept(t *testing.T, tr *transport.Transport, d time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for _, k := range wire.Kinds() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			if c, p, err := tr.Accept(ctx, k); err == nil {
				c.Close()
				t.Errorf("accepted a %s stream from %+v; want none", k, p)
			}
		}()
	}
	wg.Wait()
}

// useStream tries a full exchange on a freshly opened stream: it returns the
// first error.
func useStream(c net.Conn) error {
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("hi")); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 2))
	return err
}

func TestRefuseUnauthorizedSite(t *testing.T) {
	fed := testfed.New(t)
	lb, lm := testfed.NewLog(t), testfed.NewLog(t)
	cb := fed.Config(t, "b", nil, lb)
	cb.Authorize = testfed.Allow("a", "b")
	b := testfed.Listen(t, cb)
	cm := fed.Config(t, "mallory", nil, lm) // valid certificate, not a member
	cm.Authorize = testfed.Allow("a", "b", "mallory")
	m := testfed.Listen(t, cm)
	ctx := ctxT(t, 20*time.Second)

	// Inbound: mallory dials b and is refused after the handshake.
	c, _, err := m.Open(ctx, b.AdvertiseAddr(), transport.KindRaft)
	if err == nil {
		err = useStream(c)
		c.Close()
	}
	var re *transport.RefusedError
	if !errors.Is(err, transport.ErrUnauthorized) || !errors.As(err, &re) || !re.Remote {
		t.Fatalf("mallory's stream error = %v, want a remote *RefusedError", err)
	}
	if !strings.Contains(re.Reason, "not a member") {
		t.Errorf("refusal reason %q does not say why", re.Reason)
	}
	if lb.WaitFor(2*time.Second, "peer refused: site not authorized", "peer=mallory", "direction=inbound", "not a member") == "" {
		t.Error("b logged no refusal of mallory")
	}
	if lm.WaitFor(2*time.Second, "refused by peer") == "" {
		t.Error("mallory logged no refusal")
	}
	expectNoAccept(t, b, 300*time.Millisecond)

	// Outbound: b dials mallory and refuses it itself.
	_, _, err = b.Open(ctx, m.AdvertiseAddr(), transport.KindControl)
	if !errors.As(err, &re) || re.Remote || re.SiteID != "mallory" {
		t.Fatalf("b.Open(mallory) = %v, want a local *RefusedError for mallory", err)
	}
	if lb.Find("peer refused", "peer=mallory", "direction=outbound") == "" {
		t.Error("b logged no outbound refusal")
	}
	if len(b.Peers()) != 0 {
		t.Errorf("b keeps connections to a refused peer: %+v", b.Peers())
	}
}

func TestRefuseForeignCA(t *testing.T) {
	fed, other := testfed.New(t), testfed.New(t)
	lb, lx := testfed.NewLog(t), testfed.NewLog(t)
	cb := fed.Config(t, "b", nil, lb)
	b := testfed.Listen(t, cb)
	// x has a certificate from another CA for a member's name; it even
	// trusts our CA, so only b's check can stop it.
	x := testfed.Listen(t, other.Config(t, "a", fed, lx))
	ctx := ctxT(t, 20*time.Second)

	c, _, err := x.Open(ctx, b.AdvertiseAddr(), transport.KindRaft)
	if err == nil {
		err = useStream(c)
		c.Close()
	}
	var te *quic.TransportError
	if err == nil || !errors.As(err, &te) {
		t.Fatalf("foreign stream error = %v, want a QUIC transport (TLS) error", err)
	}
	if lb.WaitFor(2*time.Second, "peer refused: TLS verification failed", "direction=inbound", "not trusted") == "" {
		t.Error("b logged no TLS refusal")
	}
	expectNoAccept(t, b, 300*time.Millisecond)

	// The other way: b refuses x's server certificate when dialing it.
	if _, _, err := b.Open(ctx, x.AdvertiseAddr(), transport.KindRaft); err == nil {
		t.Fatal("b.Open(foreign) succeeded")
	}
	if lb.Find("TLS verification failed", "direction=outbound") == "" {
		t.Error("b logged no outbound TLS refusal")
	}
}

func TestMembershipRemoval(t *testing.T) {
	fed := testfed.New(t)
	var mu sync.Mutex
	members := map[string]bool{"a": true, "b": true}
	auth := func(s string) error {
		mu.Lock()
		defer mu.Unlock()
		if !members[s] {
			return errors.New("removed from the federation")
		}
		return nil
	}
	lb := testfed.NewLog(t)
	ca, cb := fed.Config(t, "a", nil, nil), fed.Config(t, "b", nil, lb)
	ca.Authorize, cb.Authorize = auth, auth
	a, b := testfed.Listen(t, ca), testfed.Listen(t, cb)
	ctx := ctxT(t, 20*time.Second)

	done := echo(t, ctx, b, transport.KindControl, 2)
	c, _, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindControl)
	if err != nil {
		t.Fatal(err)
	}
	if err := useStream(c); err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-done

	mu.Lock()
	delete(members, "a")
	mu.Unlock()
	// The next stream on the existing connection is refused.
	c, _, err = a.Open(ctx, b.AdvertiseAddr(), transport.KindControl)
	if err == nil {
		err = useStream(c)
		c.Close()
	}
	if !errors.Is(err, transport.ErrUnauthorized) {
		t.Errorf("stream after removal: %v, want ErrUnauthorized", err)
	}
	if lb.WaitFor(2*time.Second, "peer refused", "peer=a", "removed") == "" {
		t.Error("no refusal logged after removal")
	}
	if n := b.ClosePeer("a", "removed"); n != 0 {
		t.Errorf("ClosePeer after refusal closed %d connections, want 0", n)
	}
}

func TestBadPreambleClosesOnlyThatStream(t *testing.T) {
	fed := testfed.New(t)
	lb := testfed.NewLog(t)
	cb := fed.Config(t, "b", nil, lb)
	cb.HelloTimeout = 500 * time.Millisecond
	b := testfed.Listen(t, cb)
	ctx := ctxT(t, 20*time.Second)

	// A raw QUIC client with a valid certificate for site a.
	n, err := fed.CA.Issue("a", pki.NodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := n.TLSCertificate()
	tc, err := pki.MutualTLSConfig(pki.TLSOptions{Roots: fed.CA.Pool(), Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := quic.DialAddr(ctx, b.AdvertiseAddr(), tc, &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")

	hello := func(site string, kind wire.StreamKind) []byte {
		f, err := wire.AppendFrame(nil, &wire.Hello{ProtocolVersion: wire.ProtocolVersion, SiteID: site, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	oversized := []byte{wire.Magic, wire.Version, byte(wire.TypeHello), 0xff, 0xff, 0xff, 0x0f}
	bad := map[string][]byte{
		"garbage":        []byte("GET / HTTP/1.1\r\n\r\n"),
		"oversized":      oversized,
		"wrong site":     hello("c", wire.KindRaft),
		"unknown kind":   hello("a", 99),
		"not a hello":    func() []byte { f, _ := wire.AppendFrame(nil, &wire.Error{Code: 1}); return f }(),
		"silent (timer)": nil,
	}
	for name, pre := range bad {
		s, err := conn.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pre == nil {
			pre = []byte{wire.Magic} // a partial frame, then silence
		}
		s.Write(pre)
		s.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = s.Read(make([]byte, 1))
		var se *quic.StreamError
		if !errors.As(err, &se) || se.ErrorCode != transport.StreamCodePreamble || !se.Remote {
			t.Errorf("%s: read = %v, want a remote stream reset with code %#x", name, err, transport.StreamCodePreamble)
		}
		s.CancelWrite(0)
	}
	if lb.Find("stream rejected: bad preamble", "peer=a") == "" {
		t.Error("no log line for rejected streams")
	}
	// The connection and the node still serve a good stream.
	done := echo(t, ctx, b, transport.KindRaft, 2)
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(append(hello("a", wire.KindRaft), "ok"...))
	buf := make([]byte, 2)
	s.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ok" {
		t.Errorf("good stream after bad ones: %q, %v", buf, err)
	}
	if p := <-done; p.SiteID != "a" {
		t.Errorf("peer %+v", p)
	}
}

func TestRedialAfterPeerRestart(t *testing.T) {
	fed := testfed.New(t)
	ca := fed.Config(t, "a", nil, testfed.NewLog(t))
	a := testfed.Listen(t, ca)
	cb := fed.Config(t, "b", nil, testfed.NewLog(t))
	ctx := ctxT(t, 30*time.Second)
	b1, err := transport.Listen(ctx, cb)
	if err != nil {
		t.Fatal(err)
	}
	addr := b1.AdvertiseAddr()
	done := echo(t, ctx, b1, transport.KindRaft, 2)
	c, _, err := a.Open(ctx, addr, transport.KindRaft)
	if err != nil {
		t.Fatal(err)
	}
	if err := useStream(c); err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-done
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	// Restart b on the same address.
	cb.ListenAddr = addr
	b2 := testfed.Listen(t, cb)
	done = echo(t, ctx, b2, transport.KindRaft, 2)
	var lastErr error
	for i := 0; i < 50; i++ {
		c, _, err := a.Open(ctx, addr, transport.KindRaft)
		if err == nil {
			err = useStream(c)
			c.Close()
		}
		if lastErr = err; err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("no stream to the restarted peer: %v", lastErr)
	}
	<-done
}

func TestKeepAliveKeepsIdleConnection(t *testing.T) {
	a, b, _, lb := pair(t, func(c *transport.Config) {
		c.MaxIdleTimeout = 600 * time.Millisecond
		c.KeepAlivePeriod = 150 * time.Millisecond
	})
	ctx := ctxT(t, 20*time.Second)
	done := echo(t, ctx, b, transport.KindControl, 2)
	c, p1, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindControl)
	if err != nil {
		t.Fatal(err)
	}
	useStream(c)
	c.Close()
	<-done
	time.Sleep(1500 * time.Millisecond) // > 2 idle timeouts
	if len(a.Peers()) != 1 || len(b.Peers()) != 1 {
		t.Fatalf("idle connection died: a=%v b=%v", a.Peers(), b.Peers())
	}
	if lb.Find("connection ended") != "" {
		t.Error("b saw the connection end")
	}
	done = echo(t, ctx, b, transport.KindControl, 2)
	c, p2, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindControl)
	if err != nil {
		t.Fatal(err)
	}
	useStream(c)
	c.Close()
	<-done
	if p1.Addr.String() != p2.Addr.String() {
		t.Errorf("peer address changed: %v -> %v", p1.Addr, p2.Addr)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestKeyLogBothSides(t *testing.T) {
	var ka, kb syncBuf
	fed := testfed.New(t)
	ca, cb := fed.Config(t, "a", nil, nil), fed.Config(t, "b", nil, nil)
	ca.KeyLogWriter, cb.KeyLogWriter = &ka, &kb
	a, b := testfed.Listen(t, ca), testfed.Listen(t, cb)
	ctx := ctxT(t, 20*time.Second)
	done := echo(t, ctx, b, transport.KindControl, 2)
	c, _, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindControl)
	if err != nil {
		t.Fatal(err)
	}
	useStream(c)
	c.Close()
	<-done
	for name, k := range map[string]*syncBuf{"dialer": &ka, "listener": &kb} {
		s := k.String()
		if !strings.Contains(s, "CLIENT_TRAFFIC_SECRET_0 ") || !strings.Contains(s, "SERVER_HANDSHAKE_TRAFFIC_SECRET ") {
			t.Errorf("%s key log lacks TLS 1.3 secrets: %q", name, s)
		}
	}
	// Both logs describe the same session.
	if line := strings.SplitN(ka.String(), "\n", 2)[0]; !strings.Contains(kb.String(), strings.Fields(line)[1]) {
		t.Error("key logs of the two sides do not share a client random")
	}
}

func TestConfigValidation(t *testing.T) {
	fed := testfed.New(t)
	good := fed.Config(t, "a", nil, nil)
	ctx := ctxT(t, 10*time.Second)
	insecure := good.TLS.Clone()
	insecure.VerifyConnection = nil
	old := good.TLS.Clone()
	old.MinVersion = tls.VersionTLS12
	noALPN := good.TLS.Clone()
	noALPN.NextProtos = nil
	cases := map[string]func(c *transport.Config){
		"bad site":        func(c *transport.Config) { c.SiteID = "A" },
		"other site":      func(c *transport.Config) { c.SiteID = "b" },
		"no TLS":          func(c *transport.Config) { c.TLS = nil },
		"no verify":       func(c *transport.Config) { c.TLS = insecure },
		"TLS 1.2":         func(c *transport.Config) { c.TLS = old },
		"no ALPN":         func(c *transport.Config) { c.TLS = noALPN },
		"no listen addr":  func(c *transport.Config) { c.ListenAddr = "" },
		"keep-alive slow": func(c *transport.Config) { c.MaxIdleTimeout = time.Second; c.KeepAlivePeriod = 600 * time.Millisecond },
		"negative":        func(c *transport.Config) { c.QueueLen = -1 },
	}
	for name, mod := range cases {
		c := good
		mod(&c)
		if tr, err := transport.Listen(ctx, c); !errors.Is(err, transport.ErrConfig) {
			if tr != nil {
				tr.Close()
			}
			t.Errorf("%s: Listen = %v, want ErrConfig", name, err)
		}
	}
}

func TestClose(t *testing.T) {
	a, b, _, _ := pair(t, nil)
	ctx := ctxT(t, 10*time.Second)
	c, _, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindBulk)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := a.Accept(ctx, transport.KindRaft)
		errc <- err
	}()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, transport.ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept during Close = %v, want ErrClosed", err)
	}
	if _, _, err := a.Open(ctx, b.AdvertiseAddr(), transport.KindRaft); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Open after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("stream still works after Close")
		}
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, _, err := a.Open(ctx, b.AdvertiseAddr(), 0); !errors.Is(err, transport.ErrKind) {
		t.Errorf("Open(kind 0) = %v, want ErrKind", err)
	}
}

func TestAdvertiseRequiredOnWildcard(t *testing.T) {
	fed := testfed.New(t)
	ctx := ctxT(t, 10*time.Second)
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		c := fed.Config(t, "a", nil, nil)
		c.ListenAddr = addr
		if tr, err := transport.Listen(ctx, c); !errors.Is(err, transport.ErrConfig) {
			if tr != nil {
				tr.Close()
			}
			t.Errorf("Listen(%s) without AdvertiseAddr = %v, want ErrConfig", addr, err)
		}
	}
	c := fed.Config(t, "a", nil, nil)
	c.ListenAddr, c.AdvertiseAddr = "0.0.0.0:0", "127.0.0.1:7000"
	tr := testfed.Listen(t, c)
	if tr.AdvertiseAddr() != "127.0.0.1:7000" {
		t.Errorf("AdvertiseAddr = %q", tr.AdvertiseAddr())
	}
}

func TestDeadPeerDoesNotHurtOthers(t *testing.T) {
	fed := testfed.New(t)
	ctx := ctxT(t, 30*time.Second)
	a, err := transport.Listen(ctx, fed.Config(t, "a", nil, testfed.NewLog(t)))
	if err != nil {
		t.Fatal(err)
	}
	b := testfed.Listen(t, fed.Config(t, "b", nil, testfed.NewLog(t)))
	c := testfed.Listen(t, fed.Config(t, "c", nil, testfed.NewLog(t)))
	for _, tr := range []*transport.Transport{a, b, c} {
		go func() {
			for {
				s, _, err := tr.Accept(ctx, transport.KindRaft)
				if err != nil {
					return
				}
				go func() {
					defer s.Close()
					buf := make([]byte, 2)
					io.ReadFull(s, buf)
					s.Write(buf)
				}()
			}
		}()
	}
	ping := func(from, to *transport.Transport, d time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		s, _, err := from.Open(ctx, to.AdvertiseAddr(), transport.KindRaft)
		if err != nil {
			return err
		}
		defer s.Close()
		s.SetDeadline(time.Now().Add(d))
		if _, err := s.Write([]byte("hi")); err != nil {
			return err
		}
		_, err = io.ReadFull(s, make([]byte, 2))
		return err
	}
	for _, p := range [][2]*transport.Transport{{a, b}, {a, c}, {b, c}, {c, b}} {
		if err := ping(p[0], p[1], 3*time.Second); err != nil {
			t.Fatalf("%s -> %s: %v", p[0].SiteID(), p[1].SiteID(), err)
		}
	}
	aAddr := a.AdvertiseAddr()
	a.Close()
	// c keeps trying the dead a while b and c talk.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			if s, _, err := c.Open(cctx, aAddr, transport.KindRaft); err == nil {
				s.Close()
			}
			cancel()
		}
	}()
	for i := 0; i < 20; i++ {
		for _, p := range [][2]*transport.Transport{{b, c}, {c, b}} {
			if err := ping(p[0], p[1], 2*time.Second); err != nil {
				t.Fatalf("round %d %s -> %s: %v", i, p[0].SiteID(), p[1].SiteID(), err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
}
