// Package synth generates realistic synthetic social-commerce transaction
// logs for three channels (sites) that share one population of users: a
// brand's own store ("brand-store"), a marketplace flagship ("marketplace")
// and a social-commerce mini-program ("mini-program").
//
// # What it promises
//
//   - Determinism: the same [Config] gives byte-identical output on every
//     platform and Go version (math/rand/v2's PCG and its documented
//     algorithms; the three sites draw from independent streams, so writing
//     them in parallel changes nothing).
//   - The standard schema, read by the local engine with no source file:
//     header user_id,order_id,ts,amount,channel,inviter_id; one row per order;
//     ts ISO-8601 UTC in whole seconds (2024-03-05T18:22:41Z); amount with
//     exactly two decimals, > 0; order ids unique per site (and across the
//     three sites), increasing with time; rows sorted by ts; channel is the
//     site name; inviter_id is empty or the id of a user of the same site
//     whose first order there came on an earlier day.
//   - Memory grows with the number of users, not of rows: rows are produced
//     day by day from a calendar queue of per-user Poisson processes, and
//     only one day of orders is held (and sorted) at a time.
//
// # The model
//
// A population of Config.Users users is drawn first:
//
//   - channel membership: each user is a member of exactly one, two or three
//     channels with the probabilities of Config.Overlap (default 40/35/25%);
//     which channels is drawn from reach weights (marketplace 0.45,
//     brand-store 0.30, mini-program 0.25; pairs without replacement);
//   - arrival: Config.Early of the users (default 30%) are existing
//     customers whose first order in the log falls in the first 60 days; the
//     rest arrive uniformly over the period. A user joins secondary channels
//     at a uniform time in the first half of their active window;
//   - churn: Config.Churn of the users (default 40%) leave after an
//     Exponential(Config.ChurnMeanDays, default 120 days) lifetime and buy
//     nowhere after it;
//   - purchase rate: Gamma(shape Config.RateShape = 0.5) with mean
//     Config.OrdersPerYear (default 3), so a few heavy buyers dominate;
//     per channel it is scaled by the channel's frequency (brand-store 0.6,
//     marketplace 1.0, mini-program 1.8) and a per-user affinity
//     (LogNormal σ 0.3);
//   - spend: a per-user log-normal order value, μ ~ N(3.4, 0.7), shifted
//     by the channel's price level (brand-store +0.3, marketplace 0,
//     mini-program −0.55: smaller, more frequent orders) plus a per-user,
//     per-channel N(0, 0.25); each order draws LogNormal(μ, σ_channel);
//   - inviter links: on the mini-program Config.Invited (default 55%) of the
//     members were invited by an earlier member; on the other two channels
//     Config.Referred (default 4%) came through a referral. Half of the
//     inviters are copied from an earlier member's inviter (preferential
//     attachment: a few "key opinion leaders" invite many), so links form
//     chains and stars.
//
// Each (user, channel) membership then places its first order on its join
// day and further orders as a Poisson process in "intensity time" until the
// user leaves or the period ends. The daily intensity carries a weekly
// pattern, a December uplift and, on the marketplace, promotion spikes
// (6.18, 11.11, 12.12, 3.8) with discounted orders and a midnight rush;
// time of day follows lunch and evening peaks (and a morning commute on the
// mini-program).
//
// # Use
//
//	paths, err := synth.WriteFiles(synth.Config{Users: 100_000, Seed: 7}, dir)
//
// writes dir/brand-store.csv, dir/marketplace.csv and dir/mini-program.csv.
// [Generate] streams the same rows to a callback and returns the ground
// truth ([Truth]: users, orders and revenue per site, the overlap of
// memberships, churners, invited users) for tests.
package synth
