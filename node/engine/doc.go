// Package engine is the local analysis of one data owner's transactions:
// it folds ingest rows into per-user state, computes RFM values and scores,
// segments, lifecycle stages, k-means clusters and BG/NBD + Gamma-Gamma
// lifetime value with the node/analytics packages, and writes users.csv and
// summary.json.
//
// # Definitions
//
// These match the RFM peers (pandas, DuckDB, PostgreSQL in ../shared/peers)
// value for value:
//
//   - as-of: Config.AsOf, else the last purchase time + 1 day.
//   - recency_days = floor((as-of − last purchase) / 86400 s).
//   - frequency = number of distinct orders of the user (exact: every
//     (user, order) pair is kept in a set).
//   - monetary = net spend in cents (refund lines included), printed with
//     exactly two decimals.
//   - r/f/m_score: SQL ntile(5) over all users ordered by the value (recency
//     descending, so 5 = most recent), ties broken by user id ascending —
//     users are sorted by id, numerically when every id is a decimal
//     integer, else bytewise. With Config.RCuts/FCuts/MCuts, explicit
//     thresholds instead (score.Cuts).
//   - tenure_days = floor((as-of − first purchase) / 1 day); aov = monetary /
//     frequency (cents, half away from zero); mean_gap_days = (last − first)
//     / (frequency − 1) in days, empty for one order.
//
// segment is the label of the chosen rule set (Config.RuleSet, default the
// value-tiers preset; rfm8, rfm11 or a YAML rule set via the CLI), one
// column for the one rule set. lifecycle_stage uses the first, last and
// second-to-last distinct purchase times (lifecycle package; Result.History
// is each user's input). cluster is k-means (k-means++, Config.Restarts
// restarts, Config.Seed) on standardised log1p(recency, frequency,
// monetary); summary.json has each cluster's size, revenue share and mean
// values in original units.
//
// CLV: each user's calibration summary is x = orders − 1 in the calibration
// window (purchases at or before Config.CalibrationEnd, default the as-of),
// t_x = last − first and T = calibration end − first, in Config.TimeUnit
// (default weeks). BG/NBD is fitted on all such users, Gamma-Gamma on those
// with x > 0 and a positive mean repeat value (spend in the window minus the
// spend at the first purchase time, over x); Result.Calibration is each
// user's summary and mean repeat value, in any time unit. Above
// Config.FitSample users (default 250,000) a seeded uniform sample is
// fitted. p_alive and expected_purchases (over Config.Horizon units) come
// from BG/NBD, clv = Gamma-Gamma expected value × expected purchases,
// discounted per step of horizon/12 when Config.Discount > 0. Users who
// first bought after the calibration end have empty CLV columns. A failed
// fit leaves the columns empty and is reported in summary.json (clv.error),
// not as an error.
//
// # users.csv
//
// One row per user, sorted by user id, with a header:
//
//	user_id,recency_days,frequency,monetary,r_score,f_score,m_score
//
// and, unless Config.Only is OnlyRFM:
//
//	segment,lifecycle_stage,cluster,p_alive,expected_purchases,clv,tenure_days,aov,mean_gap_days
//
// p_alive and expected_purchases have 6 decimals, clv, aov and mean_gap_days
// 2. With OnlyRFM the file is byte-identical to the peers' output.
//
// # summary.json
//
// rows (ingest.Accounting), users, orders, revenue, segments / lifecycle /
// clusters.groups (users, shares, revenue_cents, revenue_share per group),
// clusters.profiles, clv.bgnbd {r, alpha, a, b, log_likelihood},
// clv.gamma_gamma {p, q, gamma, log_likelihood}, and step timings.
//
// # Memory and concurrency
//
// The Accumulator keeps O(1) state per user (about 100 bytes) and one set
// entry per distinct (user, order) pair (8 bytes at load ≤ 0.8 when the
// order id is an integer below 2^40, else a map entry). Per-user arrays grow
// in 64K-user pages, so growth never copies. Add runs on ingest's callback
// goroutine and hands rows, by user, to GOMAXPROCS shard goroutines; each
// shard applies its users' rows in file order. Finish (called by Analyze)
// stops them. Analyze and Run are not safe for concurrent use on one
// Accumulator. A Result keeps the accumulator's per-user state: History and
// Calibration read it on demand and add no memory per user.
package engine
