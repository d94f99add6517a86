package demo

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/strata-fed/strata/node/report"
)

// printReport writes the report's summary: the model, the segment ×
// channel table (users, revenue share, mean CLV per cell) and the budget.
func printReport(w io.Writer, r *report.Report) error {
	var b strings.Builder
	m := r.Model
	if m.Version > 0 {
		fmt.Fprintf(&b, "Cross-channel segment model v%d (committed to the log), rule set %s, %d channels\n", m.Version, m.RuleSet, len(r.Channels))
	} else {
		fmt.Fprintf(&b, "Segment model (centralized, plaintext), rule set %s, %d channels\n", m.RuleSet, len(r.Channels))
	}
	t := m.Thresholds
	fmt.Fprintf(&b, "  R/F/M score cut points: recency days %s | frequency %s | monetary %s\n",
		floats(t.RecencyDays, 0), floats(t.Frequency, 0), floats(t.Monetary, 2))
	if len(m.Clusters) > 0 {
		fmt.Fprintf(&b, "  k-means: %d clusters", len(m.Clusters))
		if m.Version > 0 {
			b.WriteString(" (centroids in the HTML report)")
		}
		b.WriteString("\n")
	}
	if g := m.BGNBD; g != (report.BGNBD{}) {
		fmt.Fprintf(&b, "  BG/NBD r %.4g α %.4g a %.4g b %.4g; Gamma-Gamma p %.4g q %.4g γ %.4g\n",
			g.R, g.Alpha, g.A, g.B, m.GammaGamma.P, m.GammaGamma.Q, m.GammaGamma.Gamma)
	}
	b.WriteString("\n")

	// Segment × channel: users, revenue share, mean CLV.
	nameW := len("segment")
	for _, s := range r.Segments {
		nameW = max(nameW, len(s.Name))
	}
	// Mean CLV only when the model has a CLV part (else every cell's CLV
	// sum is 0, or noise with DP on).
	withCLV := m.CLV.Horizon > 0
	cellW, head := 18, "users  revenue"
	if withCLV {
		cellW, head = 29, "users  revenue   mean CLV"
	}
	fmt.Fprintf(&b, "%-*s", nameW, "segment")
	for _, c := range r.Channels {
		fmt.Fprintf(&b, "  %*s", cellW, trunc(c.Name, cellW))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-*s", nameW, "")
	for range r.Channels {
		fmt.Fprintf(&b, "  %*s", cellW, head)
	}
	b.WriteString("\n")
	for _, s := range r.Segments {
		fmt.Fprintf(&b, "%-*s", nameW, s.Name)
		for _, c := range s.Cells {
			cell := fmt.Sprintf("%9s  %6.1f%%", group(c.Users), 100*c.RevenueShare)
			if withCLV && r.ShowsMean(c) {
				cell += fmt.Sprintf("  %9.2f", c.MeanCLV)
			} else if withCLV {
				cell += fmt.Sprintf("  %9s", "–")
			}
			fmt.Fprintf(&b, "  %*s", cellW, cell)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%-*s", nameW, "all users")
	for _, c := range r.Channels {
		fmt.Fprintf(&b, "  %-*s", cellW, fmt.Sprintf("%9s", group(c.Users)))
	}
	b.WriteString("\n")
	if !withCLV {
		b.WriteString("(no CLV model in this run: mean CLV per segment is not shown)\n")
	}
	b.WriteString("\n")

	bu := r.Budget
	switch {
	case m.Version == 0:
		b.WriteString("Privacy: none (centralized plaintext baseline): every count above is exact.\n")
	case bu.NoiseOff:
		b.WriteString("Privacy: DP OFF (the federation's test setting): every count above is exact, nothing was paid.\n")
	default:
		fmt.Fprintf(&b, "Privacy budget of %q: ε %.4g spent of %.4g (%.4g left), δ %.3g spent of %.3g; %d charges\n",
			r.Federation, bu.SpentEpsilon, bu.Epsilon, bu.RemainingEpsilon, bu.SpentDelta, bu.Delta, len(bu.Charges))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func floats(v []float64, prec int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', prec, 64)
	}
	return strings.Join(s, ",")
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
