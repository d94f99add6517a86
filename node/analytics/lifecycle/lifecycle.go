// Package lifecycle places a customer in a lifecycle stage — new, active,
// at_risk, dormant, churned or reactivated — from the days since their first,
// last and second-to-last purchase, with day thresholds the analyst can set.
//
// It is pure (no I/O, no state) and safe for concurrent use. The promise:
// with valid Params every valid History gets exactly one stage, decided by
// the first of these tests that holds (all ages in whole days before the
// as-of date, as recency_days is):
//
//	new          FirstDays ≤ NewDays                     first purchase is recent
//	reactivated  LastDays ≤ ActiveDays and
//	             PrevDays − LastDays > ReactivationGapDays  came back after a long gap
//	active       LastDays ≤ ActiveDays
//	at_risk      LastDays ≤ AtRiskDays
//	dormant      LastDays ≤ DormantDays
//	churned      LastDays > DormantDays
//
// With the defaults: new within 30 days of the first purchase; active with a
// purchase within 90 days; at_risk for 91–180 days; dormant for 181–365;
// churned after more than 365; reactivated when the last purchase is within
// 90 days and came more than 180 days (the start of dormancy) after the one
// before it. A customer with one order has no PrevDays (−1) and is never
// reactivated. Every bound is inclusive on the side of the fresher stage:
// LastDays = 90 is active, 91 at_risk.
package lifecycle

import (
	"errors"
	"fmt"
)

// Stage is a lifecycle stage name, as written in outputs.
type Stage string

// The stages, in the order Stages lists them.
const (
	New         Stage = "new"
	Active      Stage = "active"
	AtRisk      Stage = "at_risk"
	Dormant     Stage = "dormant"
	Churned     Stage = "churned"
	Reactivated Stage = "reactivated"
	// Unknown is returned by Stage for invalid params or history; Classify
	// says why.
	Unknown Stage = ""
)

// Stages returns all stages (not Unknown) in a fixed order, for reports.
func Stages() []Stage { return []Stage{New, Active, AtRisk, Dormant, Churned, Reactivated} }

// Default thresholds in days.
const (
	DefaultNewDays     = 30
	DefaultActiveDays  = 90
	DefaultAtRiskDays  = 180
	DefaultDormantDays = 365
)

// Sentinel errors returned (wrapped) by Validate and Classify.
var (
	// ErrParams: thresholds negative or out of order.
	ErrParams = errors.New("invalid lifecycle params")
	// ErrHistory: a history that cannot happen (no orders, negative ages,
	// last purchase before the first or second-to-last).
	ErrHistory = errors.New("invalid purchase history")
)

// Params are the stage thresholds in whole days. The zero value of each field
// means its default; negative values are invalid. After defaults they must
// satisfy NewDays ≤ ActiveDays < AtRiskDays < DormantDays.
type Params struct {
	// NewDays: first purchase at most this many days ago is new.
	// Defaults to 30.
	NewDays int64
	// ActiveDays: last purchase at most this many days ago is active.
	// Defaults to 90.
	ActiveDays int64
	// AtRiskDays: last purchase in (ActiveDays, AtRiskDays] is at_risk; this
	// is also where dormancy starts. Defaults to 180.
	AtRiskDays int64
	// DormantDays: last purchase in (AtRiskDays, DormantDays] is dormant,
	// beyond it churned. Defaults to 365.
	DormantDays int64
	// ReactivationGapDays: an active customer whose last two purchases are
	// more than this many days apart is reactivated. Defaults to AtRiskDays
	// (they had gone dormant in between).
	ReactivationGapDays int64
}

// History is one customer's purchase timing: days before the as-of date of
// the first, last and second-to-last purchase (PrevDays < 0 if there is
// none), and the number of orders.
type History struct {
	FirstDays, LastDays, PrevDays int64
	Orders                        int64
}

// WithDefaults returns p with every zero field set to its default.
func (p Params) WithDefaults() Params {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.NewDays, DefaultNewDays)
	def(&p.ActiveDays, DefaultActiveDays)
	def(&p.AtRiskDays, DefaultAtRiskDays)
	def(&p.DormantDays, DefaultDormantDays)
	def(&p.ReactivationGapDays, p.AtRiskDays)
	return p
}

// Validate reports whether p, with defaults applied, is usable.
func (p Params) Validate() error {
	if p.NewDays < 0 || p.ActiveDays < 0 || p.AtRiskDays < 0 || p.DormantDays < 0 || p.ReactivationGapDays < 0 {
		return fmt.Errorf("lifecycle: negative threshold in %+v: %w", p, ErrParams)
	}
	q := p.WithDefaults()
	switch {
	case q.NewDays > q.ActiveDays:
		return fmt.Errorf("lifecycle: NewDays %d above ActiveDays %d: %w", q.NewDays, q.ActiveDays, ErrParams)
	case q.ActiveDays >= q.AtRiskDays:
		return fmt.Errorf("lifecycle: ActiveDays %d not below AtRiskDays %d: %w", q.ActiveDays, q.AtRiskDays, ErrParams)
	case q.AtRiskDays >= q.DormantDays:
		return fmt.Errorf("lifecycle: AtRiskDays %d not below DormantDays %d: %w", q.AtRiskDays, q.DormantDays, ErrParams)
	}
	return nil
}

// Stage returns h's stage (see the package doc), or Unknown if p or h is
// invalid; use Classify to learn why.
func (p Params) Stage(h History) Stage {
	s, _ := p.Classify(h)
	return s
}

// Classify is Stage with the reason for Unknown: an error wrapping ErrParams
// or ErrHistory.
func (p Params) Classify(h History) (Stage, error) {
	if err := p.Validate(); err != nil {
		return Unknown, err
	}
	if err := h.validate(); err != nil {
		return Unknown, err
	}
	p = p.WithDefaults()
	switch {
	case h.FirstDays <= p.NewDays:
		return New, nil
	case h.LastDays <= p.ActiveDays && h.PrevDays >= 0 && h.PrevDays-h.LastDays > p.ReactivationGapDays:
		return Reactivated, nil
	case h.LastDays <= p.ActiveDays:
		return Active, nil
	case h.LastDays <= p.AtRiskDays:
		return AtRisk, nil
	case h.LastDays <= p.DormantDays:
		return Dormant, nil
	}
	return Churned, nil
}

func (h History) validate() error {
	switch {
	case h.Orders < 1:
		return fmt.Errorf("lifecycle: %d orders: %w", h.Orders, ErrHistory)
	case h.LastDays < 0:
		return fmt.Errorf("lifecycle: last purchase %d days after the as-of date: %w", -h.LastDays, ErrHistory)
	case h.FirstDays < h.LastDays:
		return fmt.Errorf("lifecycle: first purchase (%d days ago) after the last (%d): %w", h.FirstDays, h.LastDays, ErrHistory)
	case h.PrevDays >= 0 && (h.PrevDays < h.LastDays || h.PrevDays > h.FirstDays):
		return fmt.Errorf("lifecycle: second-to-last purchase (%d days ago) outside first..last (%d..%d): %w",
			h.PrevDays, h.FirstDays, h.LastDays, ErrHistory)
	case h.PrevDays >= 0 && h.Orders < 2:
		return fmt.Errorf("lifecycle: a second-to-last purchase with %d order: %w", h.Orders, ErrHistory)
	}
	return nil
}
