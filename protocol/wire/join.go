package wire

// Field limits of join messages.
const (
	// MaxAddr is the longest network address (host:port).
	MaxAddr = 255
	// MaxErrorText is the longest human-readable error text.
	MaxErrorText = 4096
)

// JoinRequest asks the raft leader to add the sender to the federation,
// on a control stream.
//
// Payload: SiteID string(≤63) | RaftAddr string(≤255) | Voter bool.
type JoinRequest struct {
	// SiteID is the joining site; it must equal the site of the
	// connection's certificate.
	SiteID string
	// RaftAddr is the joiner's advertised, dialable raft address.
	RaftAddr string
	// Voter asks for a voting seat; false joins as a non-voter.
	Voter bool
}

// Type implements [Message].
func (*JoinRequest) Type() Type { return TypeJoinRequest }

// Append implements [Message].
func (m *JoinRequest) Append(b []byte) []byte {
	b = appendString(b, m.SiteID)
	b = appendString(b, m.RaftAddr)
	return appendBool(b, m.Voter)
}

// Parse implements [Message].
func (m *JoinRequest) Parse(b []byte) error {
	d := decoder{t: TypeJoinRequest, b: b}
	site := d.siteID("site id", false)
	addr := d.string("raft address", MaxAddr)
	if d.err == nil && addr == "" {
		d.fail(malformed(TypeJoinRequest, "raft address"))
	}
	voter := d.bool("voter")
	if err := d.finish(); err != nil {
		return err
	}
	*m = JoinRequest{SiteID: site, RaftAddr: addr, Voter: voter}
	return nil
}

// JoinResponse answers a [JoinRequest].
//
// Payload: OK bool | LeaderSite string(≤63, may be empty) |
// LeaderAddr string(≤255) | Error string(≤4096).
type JoinResponse struct {
	// OK is true when the configuration change committed.
	OK bool
	// LeaderSite and LeaderAddr name the current leader when known, so a
	// joiner that asked a follower can retry there.
	LeaderSite string
	LeaderAddr string
	// Error explains a refusal, empty when OK.
	Error string
}

// Type implements [Message].
func (*JoinResponse) Type() Type { return TypeJoinResponse }

// Append implements [Message].
func (m *JoinResponse) Append(b []byte) []byte {
	b = appendBool(b, m.OK)
	b = appendString(b, m.LeaderSite)
	b = appendString(b, m.LeaderAddr)
	return appendString(b, m.Error)
}

// Parse implements [Message].
func (m *JoinResponse) Parse(b []byte) error {
	d := decoder{t: TypeJoinResponse, b: b}
	ok := d.bool("ok")
	site := d.siteID("leader site", true)
	addr := d.string("leader address", MaxAddr)
	text := d.string("error", MaxErrorText)
	if err := d.finish(); err != nil {
		return err
	}
	*m = JoinResponse{OK: ok, LeaderSite: site, LeaderAddr: addr, Error: text}
	return nil
}
