// Package kmeans clusters points with k-means (Lloyd's algorithm, k-means++
// seeding, restarts) and provides the helpers Strata needs around it: feature
// preparation (Log1pRFM, Standardize), the federated building blocks
// (Accumulate, Update), model selection (Silhouette, Scan, Elbow) and cluster
// profiles in original units (Profiles).
//
// The package is pure: no I/O, no global state, standard library only. Points
// are passed row-major as one []float64 of n*dim values.
//
// # Typical use
//
//	x := kmeans.Log1pRFM(recency, frequency, monetaryCents) // n*3
//	mean, std := kmeans.Standardize(x, 3)                  // in place
//	m, labels, err := kmeans.Fit(x, 3, kmeans.Options{K: 8, Seed: 42})
//	profiles := kmeans.Profiles(labels, 8, recency, frequency, monetaryCents)
//
// # What it promises
//
// Determinism. The same points, options and seed give bit-for-bit the same
// model and labels on every run and for every number of worker goroutines:
// the data is cut into fixed-size chunks that do not depend on the number of
// workers, each chunk keeps its own partial sums, and partials are added in
// chunk order. Randomness comes only from math/rand/v2's PCG seeded from
// Options.Seed; restart r uses seed Seed+r, so Fit with Restarts R is exactly
// the best of R single-restart fits with seeds Seed, Seed+1, ..., Seed+R-1.
//
// Seeding. Greedy k-means++ as scikit-learn does it: the first centre is a
// uniformly drawn point; each further centre is the best, by resulting
// potential (sum of squared distances to the nearest centre), of 2+⌊ln k⌋
// candidates drawn with probability proportional to the squared distance to
// the nearest centre chosen so far.
//
// Lloyd semantics (those of scikit-learn's algorithm="lloyd", checked by
// hand: from the same initial centres both give the same iterations, labels
// and inertia on the peers' data). Each iteration
// assigns every point to its nearest centroid (squared Euclidean distance,
// ties to the lowest index) and moves each centroid to the mean of its
// points. Iteration stops when no label changed ("strict convergence"), when
// the total centroid shift Σ_j ‖c_j' − c_j‖² is at most Tol × (mean over
// features of the population variance of the data), or after MaxIter
// iterations. The returned labels and inertia are those of a final
// assignment to the returned centroids, so labels are always the nearest
// centroid and Inertia is Σ_i ‖x_i − c_{label_i}‖². For standardized data
// every feature has variance 1 (unless constant), so the tolerance is
// simply Tol.
//
// Inertia never increases from one iteration to the next.
//
// Empty clusters. A cluster that loses all its points keeps its previous
// centroid (Update's rule, the same in federated runs). scikit-learn instead
// moves it to a far point; with k-means++ seeding this almost never happens
// on real data, and keeping the rule trivial is what lets sites run the
// same step without sharing points.
//
// Federated Lloyd. One iteration is split by site: each site calls
// Accumulate on its own points with the current centroids, the per-cluster
// sums and counts are added across sites, and Update turns them into the
// next centroids. Up to floating-point summation order this is the
// iteration Fit and FitFrom run; tests check agreement to 1e-9.
//
// Speed. Fit and FitFrom skip most distance computations with one lower
// bound per point (Hamerly's algorithm) but only where a margin far above
// floating-point rounding proves the brute-force comparison would choose the
// same centroid, so they return bit-for-bit what plain Lloyd returns (a
// test compares both kernels). Lloyd iterations allocate nothing; a fit holds
// the points (not copied), n labels and n floats of bounds.
//
// Concurrency. Fit, FitFrom, InitPlusPlus, Accumulate, Assign and Silhouette
// may start worker goroutines (Options.Workers, default GOMAXPROCS) for
// large inputs (≥ 16,384 points; Silhouette ≥ 1,024); they are always joined
// before the function returns. Inputs are only read (Standardize and
// StandardizeWith excepted), so all functions are safe for concurrent use on
// distinct or read-only inputs.
package kmeans
