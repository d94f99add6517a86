package engine

import (
	"math"
	"testing"
	"time"

	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/ingest"
)

// TestHistoryAndCalibration: on the CDNOW sample, the stages are the
// lifecycle thresholds applied to History; Calibration gives the standard
// calibration summaries (Σx = 2,457, 946 repeaters, T ≤ 39 weeks), scales
// exactly with the unit, is what the engine fitted (the fit on it
// reproduces the engine's), and is the same for an RFM-only analysis.
func TestHistoryAndCalibration(t *testing.T) {
	src := loadExample(t, "cdnow_sample.yaml")
	cal, err := ingest.ParseTime(src, src.Analysis.CalibrationEnd)
	if err != nil {
		t.Fatal(err)
	}
	res, _, _ := run(t, src, Config{CalibrationEnd: cal})
	rfm, _, _ := run(t, src, Config{CalibrationEnd: cal, Only: OnlyRFM})
	var (
		sumX      float64
		repeaters int
		prev      int
		sums      []clv.Summary
	)
	for i := range res.Users() {
		h := res.History(i)
		if st := res.Config.Lifecycle.Stage(h); st != res.Stage[i] {
			t.Fatalf("user %s: stage %q, Stage(History %+v) = %q", res.UserID(i), res.Stage[i], h, st)
		}
		if h.PrevDays >= 0 {
			prev++
			if h.PrevDays <= h.LastDays || h.PrevDays > h.FirstDays || h.Orders < 2 {
				t.Fatalf("user %s: history %+v", res.UserID(i), h)
			}
		}
		s, mv, ok := res.Calibration(i, 0)
		d, mvd, okd := res.Calibration(i, 24*time.Hour)
		r, mvr, okr := rfm.Calibration(i, res.Config.TimeUnit)
		if !ok || !okd || !okr || s != r || mv != mvr || mv != mvd || d.X != s.X ||
			math.Abs(d.T-7*s.T) > 1e-12*d.T || math.Abs(d.Tx-7*s.Tx) > 1e-12*d.T {
			t.Fatalf("user %s: weeks %+v %v %v, days %+v %v %v, rfm-only %+v %v %v", res.UserID(i), s, mv, ok, d, mvd, okd, r, mvr, okr)
		}
		if s.T > 39 || s.Tx > s.T || s.X == 0 && (s.Tx != 0 || mv != 0) {
			t.Fatalf("user %s: summary %+v, mean value %v", res.UserID(i), s, mv)
		}
		sumX += s.X
		if s.X > 0 {
			repeaters++
		}
		sums = append(sums, s)
	}
	if sumX != 2457 || repeaters != 946 || prev == 0 {
		t.Errorf("Σx %v, repeaters %d, users with a previous purchase %d; want 2457, 946, > 0", sumX, repeaters, prev)
	}
	bg, err := clv.FitBGNBD(sums)
	if err != nil || bg.Params() != res.BGNBD.Params() {
		t.Errorf("fit on Calibration = %+v, %v; engine %+v", bg, err, res.BGNBD)
	}
}
