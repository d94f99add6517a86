package report

import (
	"fmt"
	"math"
	"time"
)

// sampleReport is a realistic report of a three-channel federation, rfm11
// rule set, DP on at ε = 1. Values are deterministic.
func sampleReport() *Report {
	channels := []Channel{
		{Name: "brand-store", Users: 965_712, Revenue: 158_348_789.10},
		{Name: "marketplace", Users: 1_146_160, Revenue: 211_526_166.37},
		{Name: "mini-program", Users: 886_519, Revenue: 124_485_625.86},
	}
	names := []string{"champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
		"about_to_sleep", "at_risk", "cant_lose", "lost", "hibernating"}
	// Segment mix per channel (fraction of users) and revenue weight per user.
	mix := [][]float64{
		{0.08, 0.10, 0.12, 0.06, 0.07, 0.06, 0.08, 0.11, 0.03, 0.17, 0.12},
		{0.10, 0.11, 0.13, 0.07, 0.08, 0.05, 0.07, 0.10, 0.03, 0.15, 0.11},
		{0.13, 0.13, 0.14, 0.08, 0.08, 0.05, 0.06, 0.08, 0.02, 0.12, 0.11},
	}
	weight := []float64{9, 5, 2.2, 0.8, 0.7, 1.6, 0.7, 2.8, 5.5, 0.3, 0.5}
	clvScale := []float64{1.3, 0.9, 0.45}
	segs := make([]Segment, len(names))
	for j, name := range names {
		segs[j].Name = name
		segs[j].Cells = make([]Cell, len(channels))
	}
	for i, ch := range channels {
		total := 0.0
		for j := range names {
			total += mix[i][j] * weight[j]
		}
		for j := range names {
			segs[j].Cells[i] = Cell{
				Users:        int64(math.Round(mix[i][j]*float64(ch.Users))) + int64((i*7+j*3)%11) - 5,
				RevenueShare: math.Round(mix[i][j]*weight[j]/total*1e4) / 1e4,
				MeanCLV:      math.Round(weight[j]*38.5*clvScale[i]*100) / 100,
			}
		}
	}
	var charges []Charge
	add := func(round, purpose string, eps float64) {
		charges = append(charges, Charge{Round: round, Purpose: purpose, Epsilon: eps})
	}
	add("r-0001", "RFM thresholds", 0.06)
	add("r-0002", "RFM thresholds", 0.06)
	add("r-0003", "RFM thresholds", 0.06)
	add("r-0004", "means and medians", 0.05)
	for it := 1; it <= 8; it++ {
		add(fmt.Sprintf("r-%04d", 4+it), "k-means", 0.025)
	}
	add("r-0013", "BG/NBD fit", 0.09)
	add("r-0014", "Gamma-Gamma fit", 0.05)
	add("r-0015", "segment counts", 0.08)
	add("r-0016", "channel overlap", 0.04)
	charges = append(charges, Charge{Round: "r-0017", Purpose: "segment counts", Epsilon: 0.08, Refunded: true})
	spent := 0.0
	for _, c := range charges {
		if !c.Refunded {
			spent += c.Epsilon
		}
	}
	spent = math.Round(spent*1e6) / 1e6
	return &Report{
		Federation:      "acme-fashion / 2024-h1",
		GeneratedAt:     time.Date(2026, 11, 23, 7, 30, 0, 0, time.UTC),
		DurationSeconds: 24.6,
		Phases: []Phase{{"ingest", 6.2}, {"thresholds", 2.1}, {"k-means", 7.4}, {"CLV fit", 4.3},
			{"labelling", 2.8}, {"report", 1.8}},
		Members: []Member{
			{Site: "site-brand", Channel: "brand-store", Role: "voter", Address: "127.0.0.1:7401"},
			{Site: "site-market", Channel: "marketplace", Role: "leader", Address: "127.0.0.1:7402"},
			{Site: "site-mini", Channel: "mini-program", Role: "voter", Address: "127.0.0.1:7403"},
		},
		Channels: channels,
		Model: Model{
			Version:  7,
			RuleSet:  "rfm11",
			Currency: "EUR",
			Thresholds: Thresholds{
				RecencyDays: []float64{31, 94, 213, 402},
				Frequency:   []float64{1, 2, 4, 8},
				Monetary:    []float64{38.4, 92.1, 201.75, 512.3},
			},
			Clusters: []Cluster{
				{ID: 0, Label: "lapsed one-off", Users: 612_044, RecencyDays: 498.2, Frequency: 1.1, Monetary: 31.8},
				{ID: 1, Label: "recent newcomers", Users: 401_277, RecencyDays: 41.5, Frequency: 1.3, Monetary: 44.2},
				{ID: 2, Label: "regulars", Users: 288_930, RecencyDays: 77.9, Frequency: 5.4, Monetary: 214.6},
				{ID: 3, Label: "high value, recent", Users: 104_118, RecencyDays: 18.3, Frequency: 21.7, Monetary: 1184.9},
				{ID: 4, Label: "fading regulars", Users: 213_651, RecencyDays: 251.4, Frequency: 3.9, Monetary: 158.3},
			},
			BGNBD:      BGNBD{R: 0.2431, Alpha: 4.4142, A: 0.7931, B: 2.4259},
			GammaGamma: GammaGamma{P: 6.2499, Q: 3.7443, Gamma: 15.4428},
			CLV:        CLVSettings{TimeUnitDays: 7, Horizon: 52, Discount: 0.01},
		},
		Segments: segs,
		Overlap: Overlap{
			Method: "PSI cardinality, discrete Gaussian noise",
			Sets: []ChannelSet{
				{Channels: []string{"brand-store"}, Users: 194_551},
				{Channels: []string{"marketplace"}, Users: 291_380},
				{Channels: []string{"mini-program"}, Users: 162_166},
				{Channels: []string{"brand-store", "marketplace"}, Users: 247_540},
				{Channels: []string{"brand-store", "mini-program"}, Users: 117_139},
				{Channels: []string{"marketplace", "mini-program"}, Users: 200_730},
				{Channels: []string{"brand-store", "marketplace", "mini-program"}, Users: 406_494},
			},
		},
		Budget: Budget{
			Epsilon: 1, Delta: 1e-6,
			SpentEpsilon: spent, SpentDelta: 1e-6,
			RemainingEpsilon: math.Round((1-spent)*1e6) / 1e6, RemainingDelta: 0,
			Composition: "zCDP",
			Charges:     charges,
		},
		Notes: []string{
			"Counts are differentially private; small segments can be off by a few users.",
			"Revenue shares are computed from DP sums of integer cents.",
		},
	}
}
