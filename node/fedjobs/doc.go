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
// # From the local engine
//
// SiteDataFromEngine builds a site's SiteData from a local analysis
// (node/engine.Result): the RFM and tenure columns. engine.Result does not
// expose the second-to-last purchase age nor the CLV calibration summaries,
// so those columns take segmodel's defaults (no previous purchase, no
// calibration history): thresholds, means, k-means and channel counts are
// exact, lifecycle stages and the CLV jobs are not yet fed (see the
// function).
package fedjobs
