// Package transport is Strata's peer-to-peer fabric: QUIC (quic-go) with
// mutual TLS, one connection per peer, and streams multiplexed by kind.
//
// # What it promises
//
//   - Every connection, inbound or outbound, is TLS 1.3 with ALPN
//     "strata/1", and both ends present a certificate from the federation CA
//     (see protocol/pki). The peer's site id comes from its verified
//     certificate, never from anything it says.
//   - That site id is checked by [Config.Authorize] (the federation's
//     membership) when a connection is accepted, when one is dialed, and
//     again for every stream the peer opens, so a removed member loses
//     access at its next stream ([Transport.ClosePeer] drops it at once).
//   - One QUIC connection per peer carries every stream: raft, control and
//     bulk streams are independent QUIC streams with their own flow control,
//     so a bulk transfer never holds up a raft heartbeat: raft streams are
//     sent first (QUIC stream priorities: raft, then control, then bulk),
//     and the connection's flow-control window is sized so that unread
//     bulk data cannot starve the other streams (up to 100 never-read
//     streams, or about ten stalled bulk streams that had grown their
//     6 MiB windows; see the window constants in config.go). A connection
//     accepted from a peer is reused to dial it back when the peer dials
//     from its listening socket (it does: one UDP socket per node). When
//     two nodes dial each other at once, both keep the connection dialed by
//     the smaller site id and close the other after a short grace period.
//   - Keep-alives run at [Config.KeepAlivePeriod], below half the idle
//     timeout; a dead connection (its context done) is dropped and the next
//     [Transport.Open] dials again.
//   - Each stream starts with a [wire.Hello] frame (protocol version, the
//     opener's site id, the stream kind) written by the opener; QUIC streams
//     open lazily, so the acceptor sees the stream only then. Accepted
//     streams wait in bounded per-kind queues: a slow consumer of one kind
//     never blocks another kind, and a stream nobody accepts in time is
//     reset.
//   - Streams are [net.Conn]s ([Stream]) whose Close sends FIN and also
//     cancels the read side (a bare quic Stream.Close only half-closes), so
//     finished streams never pile up against the stream limit.
//   - [Transport.Close] stops every goroutine the transport started.
//   - Every application-layer byte a node sends to a peer — stream data of
//     every kind, the Hello preambles and connection-close reasons — can be
//     observed before encryption through [Config.SendTap], a test and
//     debugging hook (Strata's canary test checks with it that no user data
//     leaves a node); it costs nothing when nil.
//   - 0-RTT is never used (replayable, and its secrets are never logged);
//     session tickets are disabled.
//
// # Threat model
//
// Authenticated: the holder of a private key whose certificate chains to the
// federation CA, identified by the site id in that certificate. Authorized:
// such a site for which Authorize returns nil. An attacker on the network
// sees QUIC packets only (TLS 1.3); it can drop or delay them (raft then
// elects around the loss) but not read, forge or replay them.
//
// What a refused peer sees:
//
//   - a certificate from another CA, an expired one, or one without a valid
//     site id: the TLS handshake fails (a QUIC CRYPTO_ERROR carrying the TLS
//     alert); no stream is ever accepted;
//   - a valid certificate for a site Authorize refuses: the handshake
//     completes, then the connection is closed with application error
//     [CodeRefused] and the reason text; its Open, Read and Write calls fail
//     with a [*RefusedError]. Its streams are never accepted: the refusing
//     side never calls AcceptStream on that connection.
//
// Both sides log every refusal at Warn level with the site (when known),
// the remote address, the direction and the reason.
//
// Not in scope: a compromised CA key, or a member that misbehaves inside its
// authorization (the federated protocols deal with that), and traffic
// analysis. The optional KeyLogWriter writes TLS secrets for debugging: with
// it, traffic can be decrypted (see [Config.KeyLogWriter]).
//
// quic-go may log, once, that it could not raise the UDP receive buffer to
// 7 MB (this machine allows 4 MB). That is a performance warning, not an
// error; QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true silences it.
package transport
