package daemon

import "github.com/strata-fed/strata/protocol/transport"

// Option adjusts a Daemon at construction (New). Options are Go-level
// hooks for tests and programs that embed a node; none can be set from the
// configuration file.
type Option func(*options)

type options struct {
	sendTap func(peer string, kind transport.StreamKind, p []byte)
}

// WithSendTap shows tap every application-layer byte the node sends to its
// peers, before QUIC encryption (transport.Config.SendTap: every stream of
// every kind, raft's included, and connection-close reasons). FOR TESTS
// AND DEBUGGING: the canary test uses it to check that no user data leaves
// a node. tap must be safe for concurrent use, must not keep p, and delays
// the node's sends while it runs.
func WithSendTap(tap func(peer string, kind transport.StreamKind, p []byte)) Option {
	return func(o *options) { o.sendTap = tap }
}
