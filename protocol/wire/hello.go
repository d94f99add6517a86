package wire

// ProtocolVersion is the application protocol version this build speaks,
// announced in every [Hello].
const ProtocolVersion = 1

// MaxSiteID is the longest site id (a DNS label).
const MaxSiteID = 63

// Hello is the first frame the opener writes on every stream: QUIC streams
// open lazily, so the acceptor sees a stream only once this arrives.
//
// Payload: ProtocolVersion uvarint | SiteID string(≤63) | Kind 1 byte (≠0).
// The acceptor checks that SiteID equals the site of the connection's
// verified certificate, and that Kind is one it serves.
type Hello struct {
	// ProtocolVersion is the opener's application protocol version.
	ProtocolVersion uint64
	// SiteID is the opener's site id, ^[a-z0-9][a-z0-9-]{0,62}$.
	SiteID string
	// Kind is what the stream carries. Any non-zero value parses; the
	// acceptor decides whether it serves it.
	Kind StreamKind
}

// Type implements [Message].
func (*Hello) Type() Type { return TypeHello }

// Append implements [Message].
func (m *Hello) Append(b []byte) []byte {
	b = appendUvarint(b, m.ProtocolVersion)
	b = appendString(b, m.SiteID)
	return append(b, byte(m.Kind))
}

// Parse implements [Message].
func (m *Hello) Parse(b []byte) error {
	d := decoder{t: TypeHello, b: b}
	v := d.uvarint("protocol version")
	site := d.siteID("site id", false)
	var k [1]byte
	d.fixed("kind", k[:])
	if d.err == nil && k[0] == 0 {
		d.fail(malformed(TypeHello, "kind"))
	}
	if err := d.finish(); err != nil {
		return err
	}
	*m = Hello{ProtocolVersion: v, SiteID: site, Kind: StreamKind(k[0])}
	return nil
}
