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
// state machine), and, for a data site, out/ (data.out) with the model
// outputs. Nothing else is needed to restart: a restarted node catches up
// from its own log and its peers, and re-analyses its data file.
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
// # Site data and segment models
//
// With a data: section in its config the node is also a data site of the
// federated segmentation (segmentation.go): it reads and analyses its
// transaction file in the background at start-up (progress in the log; a
// malformed row stops the node with FILE:LINE), then serves the federated
// jobs' statistics from it (node/fedjobs.Provider) — before that they are
// refused with ErrDataNotReady. Every model version committed to the log
// (POST /v1/models, leader only) is applied by every data site to its own
// users: data.out/model-v<N>/ receives labels.csv, audiences/<segment>.csv,
// report.json, report.html and activation.json, written atomically and
// never redone. GET /report and /report.json serve the latest model's
// report built from the node's own log; GET /v1/activation shows the site's
// local status. User ids and labels never leave the node.
//
// # Bulk data
//
// The raft log carries commands of a few hundred bytes: ids, hashes,
// settings, budget charges. Bulk data travels on the transport's bulk
// streams, never through raft.
package daemon
