// Package jobs holds Strata's federated algorithms: each job computes a
// public, merged result (R/F/M thresholds, means and medians, k-means
// centroids, BG/NBD and Gamma-Gamma parameters, segment × channel counts)
// from secure sums of per-site vectors, never from per-user data, and Run
// builds the cross-channel segment model (federated/segmodel) from them.
//
// # Two halves
//
// The coordinator's half is a job function (RunThresholds, RunMeans,
// RunKMeans, RunCLV, RunChannels, or Run for all of them) that issues
// Queries to a Summer. The sites' half is Local: given a query's Statistic
// and public Params, each site computes its vector from its own SiteData;
// the node plugs Local into the secure-sum protocol's provider. Everything
// in a Query is public (it goes into the replicated log); the vectors are
// encrypted, and noised unless DP is disabled federation-wide. MemSummer
// runs the same queries in process over several SiteData, exactly (DP off)
// or with distributed Skellam noise (DP on), for tests and the centralised
// baseline.
//
// # Rounds, vectors and costs
//
//	job         statistic   rounds                 length          per-user bound      sensitivity (L1, L2)
//	thresholds  rfm.hist    1                      ≈ 6,100 bins    1 per histogram     3, √3
//	means       rfm.sums    1                      4 exact / 3 DP  codec               3·S, √3·S
//	k-means     km.moments  1                      7 (×3+1 exact)  codec               7·S, √7·S
//	            km.grid     1 (0 with Init)        16³ = 4,096     1                   1, 1
//	            km.step     ≤ MaxIter (DP: 5)      K·4 (×3+1)      codec               4·S, 2·S
//	clv exact   clv.start   1                      5 values        DP off only
//	            clv.bgnbd   1 per evaluation       5 values        DP off only
//	            clv.gg      1 per evaluation       4 values        DP off only
//	clv grid    clv.grid    1                      ≈ 2,100 cells   1 per grid          2, √2
//	channels    seg.channel 1                      C·segments·3    codec               3·S, √3·S
//
// S is the balanced codec's scale (Codec, DefaultScale). Sensitivities are
// for adding or removing one user's record at one site (a person present at
// c sites is protected at c times the cost, by group privacy).
//
// Privacy budget. Costs are zCDP ρ (dp/budget): a Privacy (ε, δ) is turned
// into ρ with the ledger's conversion, split between jobs by Split
// (DefaultSplit: thresholds 30%, means 10%, k-means 30% — moments 1/6, grid
// 1/6, iterations 4/6 evenly over MaxIter —, CLV 20%, channels 10%), and each
// query carries the ε whose ledger ρ is its share, so the shares compose to
// at most the total. With DP off (the zero Privacy) nothing is noised or
// charged and results are exact: federated thresholds equal those of the
// pooled histograms, means equal segment.ComputeMeans, k-means follows
// kmeans.FitFrom on the pooled standardised points (to ~1e-10), and the CLV
// fits equal the pooled maximum-likelihood fits (to ~1e-7 relative).
//
// With DP on: thresholds come from noised histograms made monotone;
// means from clamped sums (Thresholds.Clips); k-means runs a fixed, paid
// number of noised Lloyd rounds; CLV is fitted on binned sufficient
// statistics in one round (RunCLV). Every job issues a bounded number of
// rounds, so a DP run always ends.
package jobs
