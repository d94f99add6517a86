// Package protocol is the root of Strata's federation fabric: everything a node
// needs to talk to other nodes, and nothing else.
//
//   - [github.com/strata-fed/strata/protocol/pki]: the federation CA, node
//     certificates whose identity is the site id, and mutual-TLS configurations.
//   - [github.com/strata-fed/strata/protocol/wire]: typed, versioned,
//     length-limited messages with a documented binary frame.
//   - [github.com/strata-fed/strata/protocol/transport]: QUIC (quic-go) with
//     mutual TLS, one connection per peer, streams multiplexed by kind.
//   - [github.com/strata-fed/strata/protocol/raftquic]: a raft.StreamLayer over
//     the transport's raft streams.
//
// The protocol tree imports nothing else of Strata's.
package protocol
