// Package report renders the cross-channel segment report of a federated
// run: the committed segment model (R/F/M thresholds, rule set, cluster
// centroids, BG/NBD and Gamma-Gamma parameters), per segment × channel the
// DP user counts, revenue shares and mean CLV, the channel overlap, the
// privacy budget (total, spent, left, and every charge) and the federation's
// members.
//
// The node fills a [Report] (plain values with JSON tags) and writes it with
// [WriteJSON] or [WriteHTML], saves both next to each other with [Save], or
// serves them with [Handler] at /report and /report.json.
//
// # What it promises
//
//   - The HTML page is self-contained: its stylesheet and template are
//     embedded in the binary, charts are inline SVG computed in Go, and the
//     page has no script and no reference to any URL, so it renders offline
//     and loads nothing from anywhere. The handler adds a
//     Content-Security-Policy that forbids external loads.
//   - Every string from the Report (segment, site, channel, purpose names,
//     notes) is escaped by html/template.
//   - The report shows only what it is given: it never derives a finer
//     count than the node released. The one sum it shows (users over
//     channels) adds released counts.
//   - Invalid reports (cells not lined up with channels, NaN values, shares
//     outside [0, 1]) are refused with ErrInvalidReport before anything is
//     written.
package report
