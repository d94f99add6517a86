// Package segmodel is the merged cross-channel segment model of a Strata
// federation and its local application.
//
// A Model holds everything a site needs to label its own users the same way
// every other site does: the global R/F/M cut points, the rule set and the
// global reference statistics it compares against, the lifecycle thresholds,
// the k-means standardisation and centroids, and the BG/NBD and Gamma-Gamma
// parameters with the CLV horizon and discount, plus a record of the privacy
// budget spent to compute it. The federated jobs (package federated/jobs)
// compute a Model from encrypted, noised aggregates; the raft log commits its
// canonical encoding with the content hash (fsm.CommitModel).
//
// # What it promises
//
//   - Encoding is canonical and deterministic: Encode always returns the
//     same bytes for the same Model, and Hash is the hex SHA-256 of those
//     bytes (what fsm.CommitModel checks).
//   - Decode is strict: unknown or missing fields, trailing data, non-canonical
//     bytes, non-finite numbers, unordered cut points, inconsistent shapes and
//     rule sets that do not compile are errors wrapping ErrInvalid. It never
//     panics, whatever the bytes (FuzzDecode).
//   - Label is pure and per-user: a user's labels depend only on the model and
//     that user's own values, so labelling each site's users separately gives
//     exactly the labels of labelling the pooled users. Nothing it returns
//     leaves the site; Audiences groups the site's own ids per segment for
//     activation.
//
// SiteData is one site's per-user columns (no user ids): the input of both
// the site's contributions to federated jobs and of Label.
package segmodel
