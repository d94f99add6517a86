// Package score turns per-user values (recency days, order counts, money in
// cents) into small integer scores 1..k, the R, F and M scores of RFM
// analysis. It is pure: no I/O, no goroutines, no global state, and every
// function is safe for concurrent use.
//
// Three ways to score are offered, and they agree where they can:
//
//   - [NTile] is SQL ntile(k) over the whole population: users are ordered by
//     key (then by their index, which callers make the user-id order), and cut
//     into k buckets whose sizes differ by at most one, the larger ones first.
//     It reproduces, value for value, the peers in shared/peers (pandas,
//     DuckDB, PostgreSQL): r_score is NTile(recency, true, 5), f_score is
//     NTile(frequency, false, 5), m_score is NTile(monetaryCents, false, 5),
//     with users passed in ascending user-id order. Equal keys may get
//     different scores: the tie goes to the lower index.
//   - [Cuts] scores by explicit thresholds, as analysts write them ("R < 30
//     days is 5", "F ≥ 5", "M ≥ 500"). Equal values always get equal scores.
//   - [QuantileCuts] derives thresholds for [Cuts] from a histogram (for the
//     federation, where only a global histogram is known). With distinct values
//     and one bin per value it gives exactly the NTile scores; where a run of
//     equal values straddles an ntile boundary, the threshold rule keeps the
//     run together and NTile splits it.
//
// Score `k` is always the best: the largest key for "higher is better"
// (frequency, monetary) and the smallest for recency.
//
// Tie rule, stated once: NTile orders by (key, index) ascending, or by
// (key descending, index ascending) when desc is set. This is
// `ORDER BY key [DESC], user_id ASC` in SQL when index order is user-id order.
package score
