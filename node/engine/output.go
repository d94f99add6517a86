package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-fed/strata/node/analytics/kmeans"
	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/ingest"
)

// RFMColumns are the first columns of users.csv, exactly as the peers write them.
var RFMColumns = []string{"user_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"}

// FullColumns follow RFMColumns in a full analysis.
var FullColumns = []string{"segment", "lifecycle_stage", "cluster", "p_alive", "expected_purchases", "clv",
	"tenure_days", "aov", "mean_gap_days"}

// appendCents writes cents as a decimal with exactly two fractional digits.
func appendCents(b []byte, c int64) []byte {
	u := uint64(c)
	if c < 0 {
		b = append(b, '-')
		u = uint64(-c) // two's complement: correct for MinInt64 too
	}
	b = strconv.AppendUint(b, u/100, 10)
	f := u % 100
	return append(b, '.', byte('0'+f/10), byte('0'+f%10))
}

func appendFloat(b []byte, v float64, prec int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	return strconv.AppendFloat(b, v, 'f', prec, 64)
}

// WriteUsersCSV writes one row per user, sorted by user id: the RFM columns
// and, for a full analysis, FullColumns. Money has two decimals; p_alive
// and expected_purchases six; clv and aov two (currency units);
// mean_gap_days two. Empty fields mean "not defined" (no calibration
// history for the CLV columns, one order for mean_gap_days).
func (r *Result) WriteUsersCSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	full := r.Segment != nil
	cols := RFMColumns
	if full {
		cols = append(append([]string(nil), RFMColumns...), FullColumns...)
	}
	bw.WriteString(strings.Join(cols, ",") + "\n")
	line := make([]byte, 0, 256)
	for i := range r.order {
		b := r.appendUserID(line[:0], i)
		b = csvField(b)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.Recency[i], 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.Frequency[i], 10)
		b = append(b, ',')
		b = appendCents(b, r.Monetary[i])
		b = append(b, ',', '0'+r.R[i], ',', '0'+r.F[i], ',', '0'+r.M[i])
		if full {
			b = append(b, ',')
			b = append(b, r.SegmentNames[r.Segment[i]]...)
			b = append(b, ',')
			b = append(b, r.Stage[i]...)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(r.Cluster[i]), 10)
			b = append(b, ',')
			b = appendFloat(b, r.PAlive[i], 6)
			b = append(b, ',')
			b = appendFloat(b, r.ExpectedPurchases[i], 6)
			b = append(b, ',')
			b = appendFloat(b, r.CLV[i], 2)
			b = append(b, ',')
			b = strconv.AppendInt(b, r.Tenure[i], 10)
			b = append(b, ',')
			b = appendCents(b, divRound(r.Monetary[i], r.Frequency[i]))
			b = append(b, ',')
			if u := r.acc.user(r.order[i]); u.orders > 1 {
				b = appendFloat(b, float64(u.last-u.first)/86400/float64(u.orders-1), 2)
			}
		}
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("write users.csv: %w", err)
		}
		line = b
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write users.csv: %w", err)
	}
	return nil
}

// csvField quotes b, a whole user id field, as RFC 4180 requires when it
// holds a comma, quote or newline. Only user ids can hold arbitrary text.
func csvField(b []byte) []byte {
	if !strings.ContainsAny(string(b), ",\"\n\r") {
		return b
	}
	return []byte(`"` + strings.ReplaceAll(string(b), `"`, `""`) + `"`)
}

// divRound is a/b rounded half away from zero (b > 0).
func divRound(a, b int64) int64 {
	if b <= 0 {
		return 0
	}
	q, rem := a/b, a%b
	if rem < 0 {
		rem = -rem
	}
	if 2*rem >= b {
		if a < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

// Group is one segment, stage or cluster in the summary.
type Group struct {
	Name         string  `json:"name"`
	Users        int     `json:"users"`
	UserShare    float64 `json:"user_share"`
	RevenueCents int64   `json:"revenue_cents"`
	RevenueShare float64 `json:"revenue_share"`
}

// ClusterProfile is one k-means cluster in original units.
type ClusterProfile struct {
	Cluster       int       `json:"cluster"`
	Users         int       `json:"users"`
	UserShare     float64   `json:"user_share"`
	RevenueCents  int64     `json:"revenue_cents"`
	RevenueShare  float64   `json:"revenue_share"`
	MeanRecency   float64   `json:"mean_recency_days"`
	MeanFrequency float64   `json:"mean_frequency"`
	MeanMonetary  float64   `json:"mean_monetary"`
	Centroid      []float64 `json:"centroid_standardized"`
}

// Summary is summary.json.
type Summary struct {
	Input          string             `json:"input"`
	AsOf           time.Time          `json:"asof"`
	CalibrationEnd time.Time          `json:"calibration_end"`
	Rows           ingest.Accounting  `json:"rows"`
	Users          int                `json:"users"`
	Orders         int64              `json:"orders"`
	RevenueCents   int64              `json:"revenue_cents"`
	Revenue        string             `json:"revenue"`
	Scoring        string             `json:"scoring"`
	Channels       []ChannelCount     `json:"channels,omitempty"`
	WithInviter    int                `json:"users_with_inviter"`
	RuleSet        string             `json:"rule_set,omitempty"`
	Segments       []Group            `json:"segments,omitempty"`
	Lifecycle      []Group            `json:"lifecycle,omitempty"`
	Clusters       *ClusterSummary    `json:"clusters,omitempty"`
	CLV            *CLVSummary        `json:"clv,omitempty"`
	Timings        map[string]float64 `json:"timings_seconds"`
}

// ChannelCount is the number of users who bought through a channel.
// Channels after the 31st share the last entry ("other").
type ChannelCount struct {
	Name  string `json:"name"`
	Users int    `json:"users"`
}

// ClusterSummary describes the k-means model.
type ClusterSummary struct {
	K          int              `json:"k"`
	Restarts   int              `json:"restarts"`
	Seed       uint64           `json:"seed"`
	Inertia    float64          `json:"inertia"`
	Iterations int              `json:"iterations"`
	Features   string           `json:"features"`
	Groups     []Group          `json:"groups"`
	Profiles   []ClusterProfile `json:"profiles"`
	// Scan reports inertia and silhouette per k (with --scan-k), and
	// SuggestedK the elbow of the inertia curve.
	Scan       []KScanJSON `json:"scan,omitempty"`
	SuggestedK int         `json:"suggested_k,omitempty"`
}

// KScanJSON is one k of a k-means scan. Silhouette is on a sample of users
// and null where it is undefined.
type KScanJSON struct {
	K          int      `json:"k"`
	Inertia    float64  `json:"inertia"`
	Silhouette *float64 `json:"silhouette"`
	Iterations int      `json:"iterations"`
}

// CLVSummary holds the fitted models.
type CLVSummary struct {
	TimeUnitDays float64       `json:"time_unit_days"`
	Horizon      float64       `json:"horizon"`
	Discount     float64       `json:"discount"`
	Customers    int           `json:"customers"` // customers in the BG/NBD fit (after sampling)
	BGNBD        *BGNBDJSON    `json:"bgnbd,omitempty"`
	GammaGamma   *GGJSON       `json:"gamma_gamma,omitempty"`
	GGCustomers  int           `json:"gamma_gamma_customers"`
	Error        string        `json:"error,omitempty"`
	Totals       *CLVTotalJSON `json:"totals,omitempty"`
}

// BGNBDJSON is the fitted BG/NBD model.
type BGNBDJSON struct {
	R             float64 `json:"r"`
	Alpha         float64 `json:"alpha"`
	A             float64 `json:"a"`
	B             float64 `json:"b"`
	LogLikelihood float64 `json:"log_likelihood"`
}

// GGJSON is the fitted Gamma-Gamma model.
type GGJSON struct {
	P             float64 `json:"p"`
	Q             float64 `json:"q"`
	Gamma         float64 `json:"gamma"`
	LogLikelihood float64 `json:"log_likelihood"`
}

// CLVTotalJSON sums predictions over users.
type CLVTotalJSON struct {
	ExpectedPurchases float64 `json:"expected_purchases"`
	CLV               float64 `json:"clv"`
	MeanPAlive        float64 `json:"mean_p_alive"`
}

// Summarize builds the summary.
func (r *Result) Summarize(input string, rows ingest.Accounting) Summary {
	s := Summary{
		Input: input, AsOf: r.AsOf, CalibrationEnd: r.CalibrationEnd, Rows: rows, Users: r.Users(),
		Orders: r.Orders, RevenueCents: r.RevenueCents, Revenue: string(appendCents(nil, r.RevenueCents)),
		Scoring: "quintiles (SQL ntile(5), ties by user id)", Timings: map[string]float64{},
	}
	if r.Config.RCuts != nil || r.Config.FCuts != nil || r.Config.MCuts != nil {
		s.Scoring = "thresholds where given, quintiles otherwise"
	}
	for _, t := range r.Timings {
		s.Timings[t.Step] = math.Round(t.Seconds*1000) / 1000
	}
	names := r.acc.channelNames
	if len(names) > 32 {
		names = append(names[:31:31], "other")
	}
	for j, name := range names {
		c := ChannelCount{Name: name}
		for _, h := range r.order {
			if r.acc.user(h).channels&(1<<j) != 0 {
				c.Users++
			}
		}
		s.Channels = append(s.Channels, c)
	}
	for _, h := range r.order {
		if r.acc.user(h).inviter != 0 {
			s.WithInviter++
		}
	}
	if r.Segment == nil {
		return s
	}
	s.RuleSet = r.Config.RuleSet.Name
	s.Segments = r.groups(r.SegmentNames, func(i int) int { return int(r.Segment[i]) })
	stages := lifecycle.Stages()
	names = make([]string, 0, len(stages)+1)
	for _, st := range stages {
		names = append(names, string(st))
	}
	names = append(names, "unknown")
	s.Lifecycle = r.groups(names, func(i int) int {
		for j, st := range stages {
			if r.Stage[i] == st {
				return j
			}
		}
		return len(stages)
	})
	if s.Lifecycle[len(s.Lifecycle)-1].Users == 0 {
		s.Lifecycle = s.Lifecycle[:len(s.Lifecycle)-1]
	}
	k := len(r.Profiles)
	cnames := make([]string, k)
	for j := range cnames {
		cnames[j] = strconv.Itoa(j)
	}
	cs := &ClusterSummary{K: k, Restarts: r.Config.Restarts, Seed: r.Config.Seed, Inertia: r.KMeans.Inertia,
		Iterations: r.KMeans.Iterations, Features: "standardized log1p(recency_days), log1p(frequency), log1p(monetary, clamped at 0)",
		Groups: r.groups(cnames, func(i int) int { return int(r.Cluster[i]) })}
	for j, p := range r.Profiles {
		cp := ClusterProfile{Cluster: p.Cluster, Users: p.Size, UserShare: p.Share, RevenueCents: p.RevenueCents,
			RevenueShare: p.RevenueShare, MeanRecency: p.RecencyDays, MeanFrequency: p.Frequency, MeanMonetary: p.MonetaryCents / 100}
		if j < len(r.KMeans.Centroids) {
			cp.Centroid = r.KMeans.Centroids[j]
		}
		cs.Profiles = append(cs.Profiles, cp)
	}
	for _, ks := range r.KScan {
		e := KScanJSON{K: ks.K, Inertia: ks.Inertia, Iterations: ks.Iterations}
		if sil := ks.Silhouette; !math.IsNaN(sil) && !math.IsInf(sil, 0) {
			e.Silhouette = &sil
		}
		cs.Scan = append(cs.Scan, e)
	}
	if len(r.KScan) > 0 {
		cs.SuggestedK = kmeans.Elbow(r.KScan)
	}
	s.Clusters = cs
	c := &CLVSummary{TimeUnitDays: r.Config.TimeUnit.Hours() / 24, Horizon: r.Config.Horizon, Discount: r.Config.Discount,
		Customers: r.CLVUsers, GGCustomers: r.GGUsers, Error: r.CLVError}
	if r.BGNBD.R > 0 {
		c.BGNBD = &BGNBDJSON{R: r.BGNBD.R, Alpha: r.BGNBD.Alpha, A: r.BGNBD.A, B: r.BGNBD.B, LogLikelihood: r.BGNBD.LogLik}
		var t CLVTotalJSON
		var np int
		for i := range r.PAlive {
			if !math.IsNaN(r.PAlive[i]) {
				t.MeanPAlive += r.PAlive[i]
				np++
			}
			if !math.IsNaN(r.ExpectedPurchases[i]) {
				t.ExpectedPurchases += r.ExpectedPurchases[i]
			}
			if !math.IsNaN(r.CLV[i]) {
				t.CLV += r.CLV[i]
			}
		}
		if np > 0 {
			t.MeanPAlive /= float64(np)
		}
		c.Totals = &t
	}
	if r.GammaGamma.P > 0 {
		c.GammaGamma = &GGJSON{P: r.GammaGamma.P, Q: r.GammaGamma.Q, Gamma: r.GammaGamma.Gamma, LogLikelihood: r.GammaGamma.LogLik}
	}
	s.CLV = c
	return s
}

func (r *Result) groups(names []string, of func(i int) int) []Group {
	g := make([]Group, len(names))
	for j, name := range names {
		g[j].Name = name
	}
	n := r.Users()
	for i := range n {
		j := of(i)
		if j < 0 || j >= len(g) {
			continue
		}
		g[j].Users++
		g[j].RevenueCents += r.Monetary[i]
	}
	for j := range g {
		g[j].UserShare = float64(g[j].Users) / float64(n)
		if r.RevenueCents != 0 {
			g[j].RevenueShare = float64(g[j].RevenueCents) / float64(r.RevenueCents)
		}
	}
	return g
}

// WriteJSON writes the summary as indented JSON.
func (s Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write summary.json: %w", err)
	}
	return nil
}

// PrintTable writes a readable summary.
func (s Summary) PrintTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	a := s.Rows
	fmt.Fprintf(tw, "rows read\t%d\t\n", a.Read)
	fmt.Fprintf(tw, "  accepted\t%d\t\n", a.Accepted)
	fmt.Fprintf(tw, "  no user id\t%d\t\n", a.NoUser)
	fmt.Fprintf(tw, "  duplicates\t%d\t\n", a.Duplicates)
	fmt.Fprintf(tw, "  cancelled\t%d\t\n", a.Cancelled)
	fmt.Fprintf(tw, "  filtered\t%d\t%s\n", a.Filtered, byReason(a.FilteredBy))
	fmt.Fprintf(tw, "  rejected\t%d\t%s\n", a.Rejected, byReason(a.RejectedBy))
	fmt.Fprintf(tw, "users\t%d\t\n", s.Users)
	fmt.Fprintf(tw, "orders\t%d\t\n", s.Orders)
	fmt.Fprintf(tw, "revenue\t%s\t\n", s.Revenue)
	fmt.Fprintf(tw, "as of\t%s\t\n", s.AsOf.Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	table := func(title string, gs []Group) {
		if len(gs) == 0 {
			return
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tusers\tshare\trevenue share\t\n", title)
		for _, g := range gs {
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%.1f%%\t\n", g.Name, g.Users, 100*g.UserShare, 100*g.RevenueShare)
		}
		tw.Flush()
	}
	if s.RuleSet != "" {
		table("segment ("+s.RuleSet+")", s.Segments)
	}
	table("lifecycle stage", s.Lifecycle)
	if s.Clusters != nil {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "cluster\tusers\tshare\trevenue share\tmean recency\tmean frequency\tmean monetary\t\n")
		for _, p := range s.Clusters.Profiles {
			fmt.Fprintf(tw, "%d\t%d\t%.1f%%\t%.1f%%\t%.1f\t%.2f\t%.2f\t\n", p.Cluster, p.Users, 100*p.UserShare,
				100*p.RevenueShare, p.MeanRecency, p.MeanFrequency, p.MeanMonetary)
		}
		tw.Flush()
		if len(s.Clusters.Scan) > 0 {
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "k\tinertia\tsilhouette\t\n")
			for _, e := range s.Clusters.Scan {
				sil := "-"
				if e.Silhouette != nil {
					sil = fmt.Sprintf("%.3f", *e.Silhouette)
				}
				fmt.Fprintf(tw, "%d\t%.1f\t%s\t\n", e.K, e.Inertia, sil)
			}
			tw.Flush()
			fmt.Fprintf(w, "suggested k (elbow of inertia): %d\n", s.Clusters.SuggestedK)
		}
	}
	if c := s.CLV; c != nil {
		fmt.Fprintln(w)
		if c.BGNBD != nil {
			fmt.Fprintf(w, "BG/NBD (%d customers, unit %.0f days): r %.4g, alpha %.4g, a %.4g, b %.4g, LL %.1f\n",
				c.Customers, c.TimeUnitDays, c.BGNBD.R, c.BGNBD.Alpha, c.BGNBD.A, c.BGNBD.B, c.BGNBD.LogLikelihood)
		}
		if c.GammaGamma != nil {
			fmt.Fprintf(w, "Gamma-Gamma (%d customers): p %.4g, q %.4g, gamma %.4g\n", c.GGCustomers, c.GammaGamma.P, c.GammaGamma.Q, c.GammaGamma.Gamma)
		}
		if c.Totals != nil {
			fmt.Fprintf(w, "next %.0f units: %.0f expected purchases, CLV %.2f, mean P(alive) %.3f\n", c.Horizon, c.Totals.ExpectedPurchases, c.Totals.CLV, c.Totals.MeanPAlive)
		}
		if c.Error != "" {
			fmt.Fprintf(w, "CLV not available: %s\n", c.Error)
		}
	}
	return nil
}

func byReason(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
