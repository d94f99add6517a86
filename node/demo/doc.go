// Package demo is the main job end to end in one process: `strata demo`.
//
// Run builds a three-site federation on loopback and runs the federated
// cross-channel segmentation through it, as three separate organisations
// would, only in one process:
//
//  1. data: synthetic social-commerce logs for three channels (node/synth:
//     a brand's own store, a marketplace flagship, a social-commerce
//     mini-program, with overlapping users), or three standard-schema files
//     given by the caller (Options.Data), checked before anything starts;
//  2. a federation CA and one node certificate per site (protocol/pki), and
//     one node config per site with its data: section (node/config);
//  3. three real daemons (node/daemon: QUIC with mutual TLS on free
//     loopback ports, raft with its persistent log), each reading and
//     analysing its own file from start-up on;
//  4. a dealerless 2-of-3 threshold key set-up and the privacy budget of
//     the dataset "segmentation", both through the admin API;
//  5. the coordinator (node/fedjobs.Segment, as `strata segment` runs it):
//     every job over threshold-encrypted secure sums, DP noise at the run's
//     ε unless Options.DPOff (which the generated configs then allow), and
//     the model committed to the log;
//  6. every site labels its own users with the committed model and writes
//     labels.csv, one audience CSV of its own user ids per segment and the
//     report (JSON and a self-contained HTML page); Run waits for all three
//     (GET /v1/activation) and fetches the report (GET /report.json);
//  7. the report's summary, the HTML path, the audience directories and a
//     per-phase table of wall and CPU time are printed; the nodes stop.
//
// RunCentralized is the same pipeline as a plaintext baseline: the three
// files read into one engine accumulator in this process (each user keyed
// by site and id, the unit the federation counts), analysed once, the same
// jobs summed exactly in process (DP off; each site's jobs.Local vector
// computed concurrently), every site's users labelled and exported. With
// DP off the federation's model equals the baseline's.
//
// # What it promises
//
//   - Nothing starts before the options and --data files are checked;
//     errors wrap ErrOptions or ErrData.
//   - Every goroutine Run starts (the daemons and their own) has exited when
//     it returns, on success, error or cancelled context.
//   - Everything stays in the run's directory: the data, certificates,
//     configs (usable with `strata serve --config`), raft logs, every
//     site's outputs and node log (DIR/<site>/node.log).
//   - SSLKEYLOGFILE, if set, is honoured by every node (node/daemon reads
//     it): the run says so, and the key log lets tshark decrypt the QUIC
//     traffic.
//
// The CPU column of the timing table is this process's CPU time (every
// node's, in-process) during each phase; the sites' local analyses overlap
// the federation's formation and key set-up, so their own wall times are
// listed apart.
package demo
