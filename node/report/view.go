package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Palettes: channels get distinct, colour-blind-friendly hues; segments a
// 12-colour categorical palette (repeated beyond 12).
var (
	channelColors = []string{"#3569b0", "#e08a2e", "#2a9d6f", "#8e5ba8", "#c9514a", "#5d6d7e"}
	segmentColors = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
		"#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295"}
)

const defaultTitle = "Cross-channel segment report"

// chart is an inline SVG drawing: the template only places these shapes.
type chart struct {
	W, H    float64
	Label   string // aria-label
	Wide    bool   // keep a legible minimum width on narrow screens (scrolls)
	Rects   []rect
	Texts   []text
	Lines   []line
	Paths   []path
	Circles []circle
}

type rect struct {
	X, Y, W, H float64
	Fill       string
	Title      string
}

type text struct {
	X, Y   float64
	Anchor string // start, middle, end
	Class  string
	Text   string
	Title  string // full text when Text is shortened
}

type line struct {
	X1, Y1, X2, Y2 float64
	Class          string
}

type path struct {
	D     string
	Class string
	Fill  string
}

type circle struct {
	X, Y, R float64
	Fill    string
	Title   string
}

type legendItem struct {
	Name, Color string
}

type kpi struct {
	Label, Value, Sub string
}

// view is everything the template shows, formatted.
type view struct {
	R           *Report
	Title       string
	Generated   string
	Duration    string
	Currency    string
	KPIs        []kpi
	ChannelKey  []legendItem
	SegmentKey  []legendItem
	SegmentBars chart
	Revenue     chart
	Gauge       chart
	Purposes    chart
	PurposeKey  []legendItem
	OverlapSets chart
	PhaseBar    chart
	PhaseKey    []legendItem
	Table       segmentTable
	Clusters    []clusterRow
	Thresholds  []thresholdRow
	Charges     []chargeRow
	BudgetUse   float64 // spent / total ε, in [0, 1]
}

type segmentTable struct {
	Channels []legendItem
	Rows     []segmentRow
}

type segmentRow struct {
	Name, Color string
	Cells       []cellText
}

type cellText struct {
	Users, Share, CLV string
}

type clusterRow struct {
	ID                  int
	Label               string
	Users, Share        string
	SharePct            float64
	Recency, Freq, Mone string
}

type thresholdRow struct {
	Name, Unit string
	Cuts       []string
}

type chargeRow struct {
	Round, Purpose, Site, Epsilon, Delta, Cumulative string
	Refunded                                         bool
}

func newView(r *Report) *view {
	v := &view{R: r, Title: cmp.Or(r.Title, defaultTitle), Currency: r.Model.Currency}
	if !r.GeneratedAt.IsZero() {
		v.Generated = r.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	if r.DurationSeconds > 0 {
		v.Duration = seconds(r.DurationSeconds)
	}
	for i, c := range r.Channels {
		v.ChannelKey = append(v.ChannelKey, legendItem{c.Name, channelColors[i%len(channelColors)]})
	}
	for i, s := range r.Segments {
		v.SegmentKey = append(v.SegmentKey, legendItem{s.Name, segmentColors[i%len(segmentColors)]})
	}
	v.KPIs = v.kpis()
	v.SegmentBars = v.segmentBars()
	v.Revenue = v.revenueBars()
	v.Gauge, v.BudgetUse = gauge(r.Budget)
	v.Purposes, v.PurposeKey = purposeBar(r.Budget.Charges)
	v.OverlapSets = v.overlapChart()
	v.PhaseBar, v.PhaseKey = phaseBar(r.Phases)
	v.Table = v.segmentTable()
	v.Clusters = clusterRows(r.Model.Clusters)
	v.Thresholds = []thresholdRow{
		{"Recency", "days since last purchase (lower scores higher)", formatCuts(r.Model.Thresholds.RecencyDays, 0)},
		{"Frequency", "orders", formatCuts(r.Model.Thresholds.Frequency, 0)},
		{"Monetary", cmp.Or(r.Model.Currency, "currency units"), formatCuts(r.Model.Thresholds.Monetary, 2)},
	}
	v.Charges = chargeRows(r.Budget.Charges)
	return v
}

func (v *view) kpis() []kpi {
	r := v.R
	var users int64
	var revenue float64
	for _, c := range r.Channels {
		users += c.Users
		revenue += c.Revenue
	}
	k := []kpi{
		{"Channels", strconv.Itoa(len(r.Channels)), fmt.Sprintf("%d federation members", len(r.Members))},
		{"Channel users", groupInt(users), "sum over channels (DP)"},
	}
	if revenue > 0 {
		k = append(k, kpi{"Revenue", money(revenue), cmp.Or(r.Model.Currency, "all channels") + " (DP)"})
	}
	k = append(k,
		kpi{"Segments", strconv.Itoa(len(r.Segments)), cmp.Or(r.Model.RuleSet, "rule set")},
		kpi{"Privacy budget spent", fmt.Sprintf("ε %s", num(r.Budget.SpentEpsilon, 3)), fmt.Sprintf("of %s, %s left", num(r.Budget.Epsilon, 3), num(r.Budget.RemainingEpsilon, 3))},
	)
	return k
}

// Layout constants of the horizontal bar charts (SVG user units ≈ px).
const (
	chartW   = 960.0
	labelW   = 180.0
	valueW   = 78.0
	barH     = 13.0
	barGap   = 2.0
	groupGap = 14.0
	axisH    = 22.0
)

// segmentBars is a grouped horizontal bar chart: for every segment one bar
// per channel, with the DP user count at its end.
func (v *view) segmentBars() chart {
	r := v.R
	n := len(r.Channels)
	c := chart{W: chartW, Wide: true, Label: "Users per segment and channel"}
	maxV := int64(0)
	for _, s := range r.Segments {
		for _, cell := range s.Cells {
			maxV = max(maxV, cell.Users)
		}
	}
	top := niceCeil(float64(maxV))
	plotW := chartW - labelW - valueW
	groupH := float64(n)*barH + float64(n-1)*barGap
	y := axisH
	c.H = axisH + float64(len(r.Segments))*(groupH+groupGap) + 4
	c.axis(top, labelW, plotW, axisH, c.H-4, groupInt)
	for _, s := range r.Segments {
		name, full := shorten(s.Name, 24)
		c.Texts = append(c.Texts, text{X: labelW - 10, Y: y + groupH/2 + 4.5, Anchor: "end", Class: "lbl", Text: name, Title: full})
		for i, cell := range s.Cells {
			w := 0.0
			if top > 0 && cell.Users > 0 {
				w = math.Max(1, float64(cell.Users)/top*plotW)
			}
			by := y + float64(i)*(barH+barGap)
			c.Rects = append(c.Rects, rect{X: labelW, Y: by, W: w, H: barH, Fill: v.ChannelKey[i].Color,
				Title: fmt.Sprintf("%s · %s: %s users", s.Name, r.Channels[i].Name, groupInt(cell.Users))})
			c.Texts = append(c.Texts, text{X: labelW + w + 5, Y: by + barH - 2.5, Anchor: "start", Class: "val", Text: groupInt(cell.Users)})
		}
		y += groupH + groupGap
	}
	return c
}

// axis draws vertical grid lines with labels at 0, ¼, ½, ¾ and 1 of top.
func (c *chart) axis(top, x0, w, y0, y1 float64, label func(int64) string) {
	if top <= 0 {
		return
	}
	for i := 0; i <= 4; i++ {
		x := x0 + float64(i)/4*w
		c.Lines = append(c.Lines, line{X1: x, Y1: y0 - 4, X2: x, Y2: y1, Class: "grid"})
		c.Texts = append(c.Texts, text{X: x, Y: y0 - 9, Anchor: "middle", Class: "tick", Text: label(int64(math.Round(top * float64(i) / 4)))})
	}
}

// revenueBars is a 100% stacked bar per channel: how the channel's revenue
// splits over the segments.
func (v *view) revenueBars() chart {
	r := v.R
	const h, gap = 30.0, 14.0
	plotW := chartW - labelW - 20
	c := chart{W: chartW, Wide: true, Label: "Revenue share of each segment, per channel"}
	c.H = axisH + float64(len(r.Channels))*(h+gap)
	c.axis(100, labelW, plotW, axisH, c.H-gap+4, func(p int64) string { return strconv.FormatInt(p, 10) + "%" })
	for i, ch := range r.Channels {
		y := axisH + float64(i)*(h+gap)
		name, full := shorten(ch.Name, 24)
		c.Texts = append(c.Texts, text{X: labelW - 10, Y: y + h/2 + 4.5, Anchor: "end", Class: "lbl", Text: name, Title: full})
		x := labelW
		for j, s := range r.Segments {
			share := s.Cells[i].RevenueShare
			w := share * plotW
			if w <= 0 {
				continue
			}
			c.Rects = append(c.Rects, rect{X: x, Y: y, W: w, H: h, Fill: v.SegmentKey[j].Color,
				Title: fmt.Sprintf("%s · %s: %s of revenue", ch.Name, s.Name, pct(share))})
			if w >= 38 {
				c.Texts = append(c.Texts, text{X: x + w/2, Y: y + h/2 + 4, Anchor: "middle", Class: "inbar", Text: pctShort(share)})
			}
			x += w
		}
	}
	return c
}

// gauge is a half-circle meter of the ε spent out of the total.
func gauge(b Budget) (chart, float64) {
	const cx, cy, rad = 130.0, 128.0, 100.0
	c := chart{W: 260, H: 170, Label: "Privacy budget spent"}
	use := 0.0
	if b.Epsilon > 0 {
		use = math.Min(1, b.SpentEpsilon/b.Epsilon)
	}
	arc := func(from, to float64) string { // fractions of the half circle, left to right
		a0, a1 := math.Pi*(1-from), math.Pi*(1-to)
		return fmt.Sprintf("M %.2f %.2f A %.0f %.0f 0 0 1 %.2f %.2f",
			cx+rad*math.Cos(a0), cy-rad*math.Sin(a0), rad, rad, cx+rad*math.Cos(a1), cy-rad*math.Sin(a1))
	}
	c.Paths = append(c.Paths, path{D: arc(0, 1), Class: "gauge-bg", Fill: "none"})
	class := "gauge-ok"
	switch {
	case use >= 0.9:
		class = "gauge-high"
	case use >= 0.6:
		class = "gauge-mid"
	}
	if use > 0 {
		c.Paths = append(c.Paths, path{D: arc(0, math.Max(use, 0.005)), Class: class, Fill: "none"})
	}
	c.Texts = append(c.Texts,
		text{X: cx, Y: cy - 22, Anchor: "middle", Class: "gauge-num", Text: "ε " + num(b.SpentEpsilon, 3)},
		text{X: cx, Y: cy + 2, Anchor: "middle", Class: "gauge-sub", Text: fmt.Sprintf("spent of ε %s (%s)", num(b.Epsilon, 3), pctShort(use))},
		text{X: cx - rad, Y: cy + 24, Anchor: "middle", Class: "tick", Text: "0"},
		text{X: cx + rad, Y: cy + 24, Anchor: "middle", Class: "tick", Text: num(b.Epsilon, 3)},
	)
	return c, use
}

// purposeBar splits the charged ε by purpose (refunded charges excluded).
func purposeBar(charges []Charge) (chart, []legendItem) {
	var order []string
	sum := map[string]float64{}
	total := 0.0
	for _, ch := range charges {
		if ch.Refunded || ch.Epsilon <= 0 {
			continue
		}
		p := cmp.Or(ch.Purpose, "other")
		if _, ok := sum[p]; !ok {
			order = append(order, p)
		}
		sum[p] += ch.Epsilon
		total += ch.Epsilon
	}
	const w = 720.0 // drawn beside the gauge
	c := chart{W: w, H: 34, Label: "Charged ε by purpose"}
	var key []legendItem
	if total == 0 {
		return c, nil
	}
	x := 0.0
	for i, p := range order {
		bw := sum[p] / total * w
		color := segmentColors[i%len(segmentColors)]
		key = append(key, legendItem{fmt.Sprintf("%s — ε %s (%s)", p, num(sum[p], 3), pctShort(sum[p]/total)), color})
		c.Rects = append(c.Rects, rect{X: x, Y: 2, W: bw, H: 30, Fill: color, Title: fmt.Sprintf("%s: ε %s", p, num(sum[p], 4))})
		if bw >= 36 {
			c.Texts = append(c.Texts, text{X: x + bw/2, Y: 21, Anchor: "middle", Class: "inbar", Text: pctShort(sum[p] / total)})
		}
		x += bw
	}
	return c, key
}

// phaseBar is a timeline of the pipeline's phases.
func phaseBar(phases []Phase) (chart, []legendItem) {
	total := 0.0
	for _, p := range phases {
		total += p.Seconds
	}
	c := chart{W: chartW, H: 26, Label: "Pipeline phases"}
	if total <= 0 {
		return c, nil
	}
	var key []legendItem
	x := 0.0
	for i, p := range phases {
		w := p.Seconds / total * chartW
		color := segmentColors[(i+3)%len(segmentColors)]
		key = append(key, legendItem{fmt.Sprintf("%s %s", p.Name, seconds(p.Seconds)), color})
		c.Rects = append(c.Rects, rect{X: x, Y: 2, W: w, H: 22, Fill: color, Title: fmt.Sprintf("%s: %s", p.Name, seconds(p.Seconds))})
		x += w
	}
	return c, key
}

// overlapChart is an UpSet-style chart: one row per channel set, a dot
// matrix of its channels and a bar of its users.
func (v *view) overlapChart() chart {
	r := v.R
	sets := slices.Clone(r.Overlap.Sets)
	slices.SortStableFunc(sets, func(a, b ChannelSet) int { return cmp.Compare(b.Users, a.Users) })
	const w, rowH, dotGap = 500.0, 26.0, 24.0 // drawn in a half-width card
	n := len(r.Channels)
	x0 := float64(n)*dotGap + 16
	plotW := w - x0 - 64
	c := chart{W: w, Label: "Users by the exact set of channels they buy in"}
	c.H = axisH + float64(len(sets))*rowH + 4
	var maxV int64
	for _, s := range sets {
		maxV = max(maxV, s.Users)
	}
	top := niceCeil(float64(maxV))
	c.axis(top, x0, plotW, axisH, c.H-4, groupInt)
	idx := map[string]int{}
	for i, ch := range r.Channels {
		idx[ch.Name] = i
	}
	for k, s := range sets {
		y := axisH + float64(k)*rowH + rowH/2
		in := make([]bool, n)
		first, last := n, -1
		for _, name := range s.Channels {
			i := idx[name]
			in[i] = true
			first, last = min(first, i), max(last, i)
		}
		if last > first {
			c.Lines = append(c.Lines, line{X1: 10 + float64(first)*dotGap, Y1: y, X2: 10 + float64(last)*dotGap, Y2: y, Class: "link"})
		}
		label := strings.Join(s.Channels, " + ")
		for i := range n {
			fill := "#d9dde3"
			if in[i] {
				fill = v.ChannelKey[i].Color
			}
			c.Circles = append(c.Circles, circle{X: 10 + float64(i)*dotGap, Y: y, R: 7, Fill: fill, Title: r.Channels[i].Name})
		}
		w := 0.0
		if top > 0 && s.Users > 0 {
			w = math.Max(1, float64(s.Users)/top*plotW)
		}
		c.Rects = append(c.Rects, rect{X: x0, Y: y - 8, W: w, H: 16, Fill: "#56647a", Title: fmt.Sprintf("%s: %s users", label, groupInt(s.Users))})
		c.Texts = append(c.Texts, text{X: x0 + w + 5, Y: y + 4, Anchor: "start", Class: "val", Text: groupInt(s.Users)})
	}
	return c
}

func (v *view) segmentTable() segmentTable {
	t := segmentTable{Channels: v.ChannelKey}
	for i, s := range v.R.Segments {
		row := segmentRow{Name: s.Name, Color: v.SegmentKey[i].Color}
		for _, c := range s.Cells {
			mean := "–"
			if v.R.ShowsMean(c) {
				mean = money(c.MeanCLV)
			}
			row.Cells = append(row.Cells, cellText{groupInt(c.Users), pct(c.RevenueShare), mean})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func clusterRows(cl []Cluster) []clusterRow {
	var total int64
	for _, c := range cl {
		total += max(0, c.Users)
	}
	rows := make([]clusterRow, 0, len(cl))
	for _, c := range cl {
		share := 0.0
		if total > 0 {
			share = float64(max(0, c.Users)) / float64(total)
		}
		rows = append(rows, clusterRow{
			ID: c.ID, Label: c.Label, Users: groupInt(c.Users), Share: pct(share), SharePct: share * 100,
			Recency: num(c.RecencyDays, 1), Freq: num(c.Frequency, 2), Mone: money(c.Monetary),
		})
	}
	return rows
}

func chargeRows(charges []Charge) []chargeRow {
	rows := make([]chargeRow, 0, len(charges))
	cum := 0.0
	for _, c := range charges {
		if !c.Refunded {
			cum += c.Epsilon
		}
		rows = append(rows, chargeRow{
			Round: c.Round, Purpose: c.Purpose, Site: c.Site,
			Epsilon: num(c.Epsilon, 4), Delta: sci(c.Delta), Cumulative: num(cum, 4), Refunded: c.Refunded,
		})
	}
	return rows
}

func formatCuts(cuts []float64, decimals int) []string {
	out := make([]string, len(cuts))
	for i, c := range cuts {
		if decimals == 0 && c == math.Trunc(c) {
			out[i] = groupInt(int64(c))
		} else {
			out[i] = num(c, max(decimals, 1))
		}
	}
	return out
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 4, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// shorten cuts s to n runes with an ellipsis; full is s when cut, else "".
func shorten(s string, n int) (short, full string) {
	r := []rune(s)
	if len(r) <= n {
		return s, ""
	}
	return string(r[:n-1]) + "…", s
}

// groupInt formats n with thousands separators: 1234567 → 1,234,567.
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// money formats currency units: two decimals below 1,000, none above.
func money(v float64) string {
	if math.Abs(v) >= 1000 {
		return groupInt(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// num formats v with at most the given decimals, trailing zeros trimmed.
func num(v float64, decimals int) string {
	if math.Abs(v) >= 1e6 {
		return groupInt(int64(math.Round(v)))
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func sci(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func pct(f float64) string      { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }
func pctShort(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" }

func seconds(s float64) string {
	if s >= 60 {
		return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
	}
	return strconv.FormatFloat(s, 'f', 1, 64) + " s"
}
