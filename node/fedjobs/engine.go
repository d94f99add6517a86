package fedjobs

import (
	"fmt"
	"math"
	"slices"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
	"github.com/strata-fed/strata/node/engine"
)

// SiteDataFromEngine builds a site's SiteData from its local analysis, in
// the result's user order (so position i is res.UserID(i)), every column
// filled from what engine.Analyze computes for any analysis (OnlyRFM
// included):
//
//   - RecencyDays, Frequency, MonetaryCents, TenureDays: copies of the
//     result's columns;
//   - PrevDays: res.History(i).PrevDays, so lifecycle stages labelled by a
//     model with the engine's thresholds equal the engine's res.Stage;
//   - CLV, MeanValue, InCLV: res.Calibration(i, 0), the summaries the
//     engine's own BG/NBD and Gamma-Gamma fits use, in the engine's
//     Config.TimeUnit (default one week, the jobs' default time unit: the
//     federation's jobs.CLVOptions.TimeUnitDays must be this unit). A
//     negative mean repeat value (refunds) becomes 0: the engine, the jobs
//     and segmodel.Label all treat a non-positive value as none (left out
//     of the Gamma-Gamma fit, the population mean in predictions).
//
// The SiteData's columns take 73 bytes per user (8 each for the five
// integer columns and MeanValue, 24 for the summary, 1 for InCLV); the
// result is not referenced afterwards. Errors wrap ErrEngine.
func SiteDataFromEngine(res *engine.Result, channel string) (*segmodel.SiteData, error) {
	if res == nil {
		return nil, fmt.Errorf("site data: nil result: %w", ErrEngine)
	}
	n := res.Users()
	if len(res.Recency) != n || len(res.Frequency) != n || len(res.Monetary) != n || len(res.Tenure) != n {
		return nil, fmt.Errorf("site data: %d users but RFM columns of %d, %d, %d, %d: %w",
			n, len(res.Recency), len(res.Frequency), len(res.Monetary), len(res.Tenure), ErrEngine)
	}
	c := segmodel.Columns{
		RecencyDays:   slices.Clone(res.Recency),
		Frequency:     slices.Clone(res.Frequency),
		MonetaryCents: slices.Clone(res.Monetary),
		TenureDays:    slices.Clone(res.Tenure),
		PrevDays:      make([]int64, n),
		CLV:           make([]clv.Summary, n),
		MeanValue:     make([]float64, n),
		InCLV:         make([]bool, n),
	}
	for i := range n {
		c.PrevDays[i] = res.History(i).PrevDays
		s, mv, ok := res.Calibration(i, 0)
		c.CLV[i], c.MeanValue[i], c.InCLV[i] = s, math.Max(mv, 0), ok
	}
	d, err := segmodel.NewSiteData(channel, c)
	if err != nil {
		return nil, fmt.Errorf("site data: %w: %w", err, ErrEngine)
	}
	return d, nil
}
