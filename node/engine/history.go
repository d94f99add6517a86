package engine

import (
	"time"

	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
)

// History returns the lifecycle history of the user at output position i,
// the input of Config.Lifecycle.Stage (Stage[i] is Stage(History(i))):
// FirstDays = Tenure[i], LastDays = Recency[i], Orders = Frequency[i], and
// PrevDays = floor((as-of − second-to-last distinct purchase time) / 1 day),
// −1 when the user has fewer than two orders or all of them carry one time.
//
// It is read from the accumulated per-user state on each call, so it costs
// no memory per user, and it is valid for every analysis, OnlyRFM included.
func (r *Result) History(i int) lifecycle.History {
	s := r.acc.user(r.order[i])
	// prev is the purchase time before the last one. An order's lines can
	// carry different timestamps (43 Online Retail invoices do), so a
	// one-order user can have two times: it has no previous purchase all
	// the same.
	prev := int64(-1)
	if s.prev != noTime && r.Frequency[i] >= 2 {
		prev = floorDiv(r.asof-s.prev, 86400)
	}
	return lifecycle.History{FirstDays: r.Tenure[i], LastDays: r.Recency[i], PrevDays: prev, Orders: r.Frequency[i]}
}

// Calibration returns the CLV calibration state of the user at output
// position i, the input of the engine's BG/NBD and Gamma-Gamma fits and
// predictions (see the package doc), with times in unit (unit ≤ 0 means
// Config.TimeUnit, what the engine's own fit uses):
//
//   - s: x = distinct orders at or before CalibrationEnd − 1, t_x = last −
//     first of those purchases (0 when x = 0) and T = CalibrationEnd −
//     first purchase, each time (t, T) the exact difference in seconds
//     divided by unit;
//   - meanValue: the mean repeat-transaction value in currency units, (spend
//     at or before CalibrationEnd − spend at the first purchase time) / x;
//     0 when x = 0, and negative when refunds outweigh repeat spend (the
//     engine then treats it as no value: left out of the Gamma-Gamma fit,
//     the population mean in predictions);
//   - ok: false, with zero s and meanValue, for a user whose first purchase
//     is after CalibrationEnd (no calibration history: NaN predictions).
//
// Like History it is read from the accumulated state (no memory per user)
// and valid for every analysis, OnlyRFM included.
func (r *Result) Calibration(i int, unit time.Duration) (s clv.Summary, meanValue float64, ok bool) {
	if unit <= 0 {
		unit = r.Config.TimeUnit
	}
	h := r.order[i]
	u := r.acc.user(h)
	if u.first > r.calEnd {
		return clv.Summary{}, 0, false
	}
	orders, last, cents := int64(u.orders), u.last, u.cents
	if r.acc.calEnd != noTime {
		c := r.acc.cal(h)
		orders, last, cents = int64(c.orders), c.last, c.cents
	}
	sec := unit.Seconds()
	x := float64(max(orders-1, 0))
	s = clv.Summary{X: x, T: float64(r.calEnd-u.first) / sec}
	if x > 0 {
		s.Tx = float64(last-u.first) / sec
		meanValue = float64(cents-u.firstCents) / 100 / x
	}
	return s, meanValue, true
}
