package clv

// SummaryFromTimes builds a customer's calibration summary from the times of
// their transactions, sorted ascending, one per transaction after merging
// same-day purchases, in the model's time unit. The first transaction is the
// customer's birth; x counts the later transactions at or before
// calibrationEnd, t_x is the time from the first to the last of them (0 if
// none) and T = calibrationEnd − first.
//
// A customer with no transaction at or before calibrationEnd has no
// calibration history: the zero Summary is returned, and callers should
// leave such customers out of the fit (a zero Summary adds 0 to the
// BG/NBD log-likelihood).
func SummaryFromTimes(times []float64, calibrationEnd float64) Summary {
	if len(times) == 0 || !(times[0] <= calibrationEnd) {
		return Summary{}
	}
	first := times[0]
	s := Summary{T: calibrationEnd - first}
	for _, t := range times[1:] {
		if !(t <= calibrationEnd) {
			break
		}
		s.X++
		s.Tx = t - first
	}
	return s
}

// MeanRepeatValue returns the mean value of a customer's repeat transactions
// at or before calibrationEnd, with times as in SummaryFromTimes and values
// the matching transaction values (same-day values summed). The first
// transaction is excluded, as in the Gamma-Gamma model. It returns 0 when
// there is no calibration repeat transaction or the lengths differ.
func MeanRepeatValue(times, values []float64, calibrationEnd float64) float64 {
	if len(times) != len(values) || len(times) == 0 || !(times[0] <= calibrationEnd) {
		return 0
	}
	var sum float64
	n := 0
	for i := 1; i < len(times) && times[i] <= calibrationEnd; i++ {
		sum += values[i]
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
