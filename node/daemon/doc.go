// Package daemon runs a Strata node: the QUIC transport with mutual TLS, the
// raft group that orders the federation's state, the federation state
// machine, membership (bootstrap, join through the leader, removal), and the
// admin API with Prometheus metrics.
//
// # Lifecycle
//
// New opens the data directory, loads the certificates, binds the QUIC
// socket and starts raft; Run serves until its context is cancelled (the CLI
// cancels on SIGTERM or SIGINT) and then shuts everything down in order:
// admin API, raft, transport, log store. Every goroutine the daemon starts
// is owned by it and has exited when Run returns.
//
// # Storage
//
// Under the data directory: raft/wal (the raft log and stable store,
// hashicorp/raft-wal) and raft/snapshots (file snapshots of the federation
// state machine). Nothing else is needed to restart: a restarted node
// catches up from its own log and its peers.
//
// # Membership and who may connect
//
// A peer is admitted by the transport only if its certificate chains to the
// federation CA and names a site the federation allows: the replicated site
// registry decides for every site it knows (a removed site is refused even
// if a config file still lists it); sites it does not know yet are allowed
// only if this node's config lists them (federation.sites), which is how a
// new node can talk to its peers before it has caught up. The founding node
// records itself in the registry when it first leads; every other site
// enters the registry when the leader admits it. A joining node sends a JoinRequest on a control stream to its join
// addresses; a follower answers with the leader's address, and the leader
// adds the site to raft (as a voter while there are fewer than five voters,
// as a non-voter otherwise) and records it in the registry.
//
// # Bulk data
//
// The raft log carries commands of a few hundred bytes: ids, hashes,
// settings, budget charges. Bulk data travels on the transport's bulk
// streams, never through raft.
package daemon
