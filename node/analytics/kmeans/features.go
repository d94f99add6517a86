package kmeans

import (
	"fmt"
	"math"
)

// Log1pRFM builds the clustering features of the peers: row-major n×3 of
// log1p(recency days), log1p(frequency), log1p(monetary in currency units,
// i.e. cents/100). Negative inputs are clamped at 0 (a net refund gives
// monetary 0). It returns nil if the three slices differ in length.
func Log1pRFM(recency, frequency, monetaryCents []int64) []float64 {
	n := len(recency)
	if len(frequency) != n || len(monetaryCents) != n {
		return nil
	}
	out := make([]float64, 3*n)
	for i := range n {
		out[3*i] = math.Log1p(float64(max(recency[i], 0)))
		out[3*i+1] = math.Log1p(float64(max(frequency[i], 0)))
		out[3*i+2] = math.Log1p(float64(max(monetaryCents[i], 0)) / 100)
	}
	return out
}

// Standardize rescales each feature in place to (x − mean) / std, with the
// population standard deviation (ddof 0, as scikit-learn's StandardScaler),
// and returns the per-feature mean and std. A constant feature (std 0) is
// only centred, so it becomes all zeros, and its std is returned as 0. It
// returns nil, nil and leaves points untouched if dim < 1, len(points) is not
// a multiple of dim, or there are no points.
func Standardize(points []float64, dim int) (mean, std []float64) {
	if dim < 1 || len(points)%dim != 0 || len(points) == 0 {
		return nil, nil
	}
	mean, std = moments(points, dim)
	_ = StandardizeWith(points, dim, mean, std)
	return mean, std
}

// StandardizeWith applies a given per-feature mean and std in place, as
// Standardize does (std 0 means centre only). A federated run uses it with
// the global mean and std so every site computes the same features.
func StandardizeWith(points []float64, dim int, mean, std []float64) error {
	if dim < 1 || len(points)%dim != 0 || len(mean) != dim || len(std) != dim {
		return fmt.Errorf("kmeans standardize: %d values, dim %d, %d means, %d stds: %w",
			len(points), dim, len(mean), len(std), ErrDim)
	}
	for i := 0; i < len(points); i += dim {
		p := points[i : i+dim]
		for t := range p {
			if std[t] != 0 {
				p[t] = (p[t] - mean[t]) / std[t]
			} else {
				p[t] -= mean[t]
			}
		}
	}
	return nil
}

// moments returns the per-feature mean and population standard deviation,
// computed in two passes for accuracy.
func moments(points []float64, dim int) (mean, std []float64) {
	n := len(points) / dim
	mean = make([]float64, dim)
	std = make([]float64, dim)
	if n == 0 {
		return mean, std
	}
	for i := 0; i < len(points); i += dim {
		for t := range dim {
			mean[t] += points[i+t]
		}
	}
	for t := range mean {
		mean[t] /= float64(n)
	}
	for i := 0; i < len(points); i += dim {
		for t := range dim {
			d := points[i+t] - mean[t]
			std[t] += d * d
		}
	}
	for t := range std {
		std[t] = math.Sqrt(std[t] / float64(n))
	}
	return mean, std
}
