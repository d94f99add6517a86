// Package fedjobs plugs the federated jobs (federated/jobs) into a node's
// threshold-encrypted secure sums (federated/securesum): the sites' half as
// a securesum.Provider over the site's segmodel.SiteData, the coordinator's
// half as a jobs.Summer that runs every job query as one secure-sum round.
//
// # Provider
//
// Provider answers every jobs statistic (jobs.Statistics) with jobs.Local
// on the site's data, binds all of them to one dataset (DefaultDataset
// unless configured: the ledger that pays for releases of this data), and
// declares the per-user sensitivity Local guarantees (Sensitivity). Any
// other statistic goes to an inner provider (the daemon's MemProvider), so
// operator-set vectors behave as before. Install it on a daemon with
// daemon.SetProvider.
//
// # Summer
//
// Summer maps a jobs.Query to a securesum.Spec with explicit per-user
// sensitivities: Lo and Hi stay the per-user bound (recorded in the log),
// L1 and L2 are the query's (jobs' conservative Length·c, √Length·c when
// zero), and MaxAbs — the bound on one site's whole vector, a sum over its
// users — is the largest the plaintext-modulus wrap check admits (see
// MaxAbsFor), so a site's vector is clamped only if it could not be summed
// without wrapping at all. A query with ε = 0 is sent with no privacy cost;
// securesum accepts it only when DP is disabled federation-wide (the log's
// test switch, with every site's allow_dp_off), and Summer checks that the
// release was not noised.
//
// # Coordinator
//
// Segment runs a whole segmentation from any process that reaches the
// admin APIs (strata segment, strata demo): jobs.Run over a Summer whose
// rounds go through an admin.Client (ClientRunner, which also lists the
// keys for MaxAbs), a check that every participant contributed to every
// round (ErrIncomplete otherwise: a site whose data is not ready would
// silently be left out), then the model commit (POST /v1/models) with the
// ids of all its rounds. WaitDataReady waits for the sites' data first.
//
// # From the local engine
//
// SiteDataFromEngine builds a site's SiteData from a local analysis
// (node/engine.Result), every column filled: the RFM and tenure columns,
// the second-to-last purchase ages (engine.Result.History), and the CLV
// calibration summaries, mean repeat values and calibration membership
// (engine.Result.Calibration) in the engine's CLV time unit. So a model's
// lifecycle stages equal the engine's where the thresholds agree, and the
// federated CLV fit over the sites' data is the engine's fit on the pooled
// file (node/fedtest2's CDNOW test).
package fedjobs
