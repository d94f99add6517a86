package fedtest2

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/strata-fed/strata/protocol/transport"
)

// canaryLink names one direction of traffic: from a sender to a receiver,
// of one kind (a transport stream kind, "conn" for connection-close
// reasons, or "admin" for the admin API's HTTP bodies).
type canaryLink struct {
	from, to, kind string
}

func (l canaryLink) String() string { return fmt.Sprintf("%s → %s (%s)", l.from, l.to, l.kind) }

// canaryRecorder keeps every byte each node sends, per link, in order.
// Safe for concurrent use.
type canaryRecorder struct {
	mu    sync.Mutex
	bytes map[canaryLink][]byte
	calls map[canaryLink]int
}

func newCanaryRecorder() *canaryRecorder {
	return &canaryRecorder{bytes: map[canaryLink][]byte{}, calls: map[canaryLink]int{}}
}

func (r *canaryRecorder) add(l canaryLink, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bytes[l] = append(r.bytes[l], p...)
	r.calls[l]++
}

// tap is the transport.Config.SendTap of site.
func (r *canaryRecorder) tap(site string) func(peer string, kind transport.StreamKind, p []byte) {
	return func(peer string, kind transport.StreamKind, p []byte) {
		k := "conn"
		if kind != transport.KindNone {
			k = kind.String()
		}
		r.add(canaryLink{site, peer, k}, p)
	}
}

// mark returns how many bytes each link holds now.
func (r *canaryRecorder) mark() map[canaryLink]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[canaryLink]int{}
	for l, b := range r.bytes {
		m[l] = len(b)
	}
	return m
}

// since returns each link's bytes recorded after mark (all if mark is nil),
// in a stable order. The slices must not be modified.
func (r *canaryRecorder) since(mark map[canaryLink]int) ([]canaryLink, map[canaryLink][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[canaryLink][]byte{}
	var links []canaryLink
	for l, b := range r.bytes {
		if b = b[mark[l]:]; len(b) > 0 {
			out[l] = b[:len(b):len(b)]
			links = append(links, l)
		}
	}
	slices.SortFunc(links, func(a, b canaryLink) int { return strings.Compare(a.String(), b.String()) })
	return links, out
}

// totals sums the recorded bytes and tap calls per sender and kind.
func (r *canaryRecorder) totals() map[string]map[string][2]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string][2]int{}
	for l, b := range r.bytes {
		if out[l.from] == nil {
			out[l.from] = map[string][2]int{}
		}
		t := out[l.from][l.kind]
		out[l.from][l.kind] = [2]int{t[0] + len(b), t[1] + r.calls[l]}
	}
	return out
}

// canaryHTTP records the admin API's request and response bodies: what
// the coordinator sends each node ("coordinator → site") and what each node
// answers ("site → coordinator").
type canaryHTTP struct {
	rec   *canaryRecorder
	sites map[string]string // admin host:port → site
	base  http.RoundTripper
}

func (h *canaryHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	site := h.sites[req.URL.Host]
	if site == "" {
		site = req.URL.Host
	}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		h.rec.add(canaryLink{"coordinator", site, "admin"}, []byte(req.Method+" "+req.URL.Path+"\n"))
		h.rec.add(canaryLink{"coordinator", site, "admin"}, b)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := h.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	h.rec.add(canaryLink{site, "coordinator", "admin"}, b)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// canaryLeak is one needle found in recorded traffic.
type canaryLeak struct {
	link   canaryLink
	pos    int
	what   string
	userID string // the needle's user id, if it is one
	ctx    string
}

func (l canaryLeak) String() string {
	return fmt.Sprintf("%s, byte %d: %s; around it: %s", l.link, l.pos, l.what, l.ctx)
}

// canaryScan scans every link's bytes for the needles and returns what it
// found (at most limit per link).
func canaryScan(ns *canaryNeedles, links []canaryLink, data map[canaryLink][]byte, limit int) []canaryLeak {
	var out []canaryLeak
	for _, l := range links {
		b := data[l]
		for _, h := range ns.scan(b, limit) {
			n := ns.list[h.needle]
			lo, hi := max(0, h.pos-24), min(len(b), h.pos+len(n.b)+24)
			out = append(out, canaryLeak{link: l, pos: h.pos, what: ns.what(h.needle), userID: n.userID, ctx: fmt.Sprintf("%q / %s", b[lo:hi], hex.EncodeToString(b[lo:hi]))})
		}
	}
	return out
}
