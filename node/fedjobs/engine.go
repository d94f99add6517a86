package fedjobs

import (
	"fmt"
	"slices"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/engine"
)

// SiteDataFromEngine builds a site's SiteData from its local analysis, in
// the result's user order (so position i is res.UserID(i)): RecencyDays,
// Frequency, MonetaryCents and TenureDays are copied from the result
// (engine.Analyze computes them for every analysis, OnlyRFM included).
//
// Missing: engine.Result keeps the second-to-last purchase time and the
// CLV calibration state (x, t_x, T, mean repeat value) inside its
// unexported accumulator, so PrevDays is left to segmodel's default (no
// previous purchase: lifecycle stages of repeat buyers differ from the
// engine's) and CLV is nil (no user has a calibration history: the CLV
// jobs have no input). Feeding them needs engine to export them.
func SiteDataFromEngine(res *engine.Result, channel string) (*segmodel.SiteData, error) {
	if res == nil {
		return nil, fmt.Errorf("site data: nil result: %w", ErrEngine)
	}
	n := res.Users()
	if len(res.Recency) != n || len(res.Frequency) != n || len(res.Monetary) != n || len(res.Tenure) != n {
		return nil, fmt.Errorf("site data: %d users but RFM columns of %d, %d, %d, %d: %w",
			n, len(res.Recency), len(res.Frequency), len(res.Monetary), len(res.Tenure), ErrEngine)
	}
	d, err := segmodel.NewSiteData(channel, segmodel.Columns{
		RecencyDays:   slices.Clone(res.Recency),
		Frequency:     slices.Clone(res.Frequency),
		MonetaryCents: slices.Clone(res.Monetary),
		TenureDays:    slices.Clone(res.Tenure),
	})
	if err != nil {
		return nil, fmt.Errorf("site data: %w: %w", err, ErrEngine)
	}
	return d, nil
}
