package kmeans

// Profile describes one cluster in original units.
type Profile struct {
	Cluster int
	// Size is the number of members; Share is Size over all users.
	Size  int
	Share float64
	// Means of the members' original values: the centroid in original
	// units (not the back-transformed k-means centroid). 0 for an empty
	// cluster.
	RecencyDays, Frequency, MonetaryCents float64
	// RevenueCents is the members' total net monetary value; RevenueShare
	// is it over all users' total (0 when that total is 0).
	RevenueCents int64
	RevenueShare float64
}

// Profiles summarises each of the k clusters of a labelling: size, share,
// the mean recency (days), frequency and monetary value (cents) of its
// members, and its revenue share. Monetary values are net (a refund-only
// user counts negative), so shares add up to 1. It returns nil when the
// four slices differ in length, k < 1, or a label lies outside [0, k).
func Profiles(labels []int, k int, recency, frequency, monetaryCents []int64) []Profile {
	n := len(labels)
	if k < 1 || len(recency) != n || len(frequency) != n || len(monetaryCents) != n {
		return nil
	}
	out := make([]Profile, k)
	sumR := make([]int64, k)
	sumF := make([]int64, k)
	var total int64
	for i, l := range labels {
		if l < 0 || l >= k {
			return nil
		}
		out[l].Size++
		sumR[l] += recency[i]
		sumF[l] += frequency[i]
		out[l].RevenueCents += monetaryCents[i]
		total += monetaryCents[i]
	}
	for j := range out {
		p := &out[j]
		p.Cluster = j
		if n > 0 {
			p.Share = float64(p.Size) / float64(n)
		}
		if p.Size > 0 {
			s := float64(p.Size)
			p.RecencyDays = float64(sumR[j]) / s
			p.Frequency = float64(sumF[j]) / s
			p.MonetaryCents = float64(p.RevenueCents) / s
		}
		if total != 0 {
			p.RevenueShare = float64(p.RevenueCents) / float64(total)
		}
	}
	return out
}
