package fedjobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/federated/segmodel"
)

// DefaultDataset is the dataset (privacy-budget ledger) a Provider binds
// the jobs statistics to when none is configured.
const DefaultDataset = "segmentation"

// Provider is one site's securesum.Provider for the federated jobs: every
// jobs statistic is jobs.Local on Data, bound to Dataset with the per-user
// sensitivity of Sensitivity; any other statistic is Inner's. Its fields
// are read-only once the provider is in use. Safe for concurrent use (Data
// is read-only, Inner must be safe).
type Provider struct {
	// Data is the site's users. Required.
	Data *segmodel.SiteData
	// Dataset names the ledger every jobs statistic is charged to; "" =
	// DefaultDataset. Rounds charged to another dataset are refused.
	Dataset string
	// Inner serves the statistics that are not jobs statistics (the
	// daemon's MemProvider); nil = they are unknown.
	Inner securesum.Provider
}

var _ securesum.Provider = (*Provider)(nil)

func (p *Provider) dataset() string {
	if p.Dataset != "" {
		return p.Dataset
	}
	return DefaultDataset
}

// Statistic implements securesum.Provider.
func (p *Provider) Statistic(ctx context.Context, name string, params []byte) ([]int64, error) {
	if _, ok := sensitivities[name]; !ok {
		return p.inner().Statistic(ctx, name, params)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.Data == nil {
		return nil, fmt.Errorf("statistic %s: provider has no site data: %w", name, ErrConfig)
	}
	v, err := jobs.Local(name, params, p.Data)
	if err != nil {
		return nil, mapErr(err)
	}
	return v, nil
}

// Binding implements securesum.Provider: the configured dataset and the
// statistic's per-user sensitivity for these params (Sensitivity).
func (p *Provider) Binding(ctx context.Context, name string, params []byte) (securesum.Binding, error) {
	if _, ok := sensitivities[name]; !ok {
		return p.inner().Binding(ctx, name, params)
	}
	if p.Data == nil {
		return securesum.Binding{}, fmt.Errorf("statistic %s: provider has no site data: %w", name, ErrConfig)
	}
	l1, l2, err := Sensitivity(name, params)
	if err != nil {
		return securesum.Binding{}, err
	}
	return securesum.Binding{Dataset: p.dataset(), L1: l1, L2: l2}, nil
}

func (p *Provider) inner() securesum.Provider {
	if p.Inner != nil {
		return p.Inner
	}
	return noProvider{}
}

// mapErr adds the securesum sentinel matching a jobs error.
func mapErr(err error) error {
	switch {
	case errors.Is(err, jobs.ErrUnknown):
		return fmt.Errorf("%w: %w", err, securesum.ErrUnknownStatistic)
	case errors.Is(err, jobs.ErrParams):
		return fmt.Errorf("%w: %w", err, securesum.ErrBadSpec)
	}
	return err
}

type noProvider struct{}

func (noProvider) Statistic(_ context.Context, name string, _ []byte) ([]int64, error) {
	return nil, fmt.Errorf("statistic %q: %w", name, securesum.ErrUnknownStatistic)
}

func (noProvider) Binding(_ context.Context, name string, _ []byte) (securesum.Binding, error) {
	return securesum.Binding{}, fmt.Errorf("statistic %q: %w", name, securesum.ErrUnknownStatistic)
}

// sensKind is how a statistic's per-user bound follows from its Local.
type sensKind struct {
	// codec: the user adds one record of its params' Codec (see
	// codecSensitivity); otherwise the fixed l1, l2.
	codec  bool
	l1, l2 float64
}

// sensitivities lists every jobs statistic (jobs.Statistics; a test keeps
// the two in step) with its per-user bound, read off its Local function:
//
//	rfm.hist     one count in each of 3 histograms          L1 = 3, L2 = √3
//	km.grid      one count in the 16³ grid                  L1 = L2 = 1
//	clv.grid     one count in the BG/NBD grid and at most
//	             one in the Gamma-Gamma grid                L1 = 2, L2 = √2
//	rfm.sums, km.moments, km.step, clv.start, clv.bgnbd,
//	clv.gg, seg.channel
//	             one Codec record (km.step: in the user's
//	             cluster's block; seg.channel: in its
//	             channel × segment block)                   see codecSensitivity
//
// These are the sensitivities the jobs documentation tabulates (jobs/doc.go)
// and the jobs put in their queries.
var sensitivities = map[string]sensKind{
	"rfm.hist":    {l1: 3, l2: math.Sqrt(3)},
	"km.grid":     {l1: 1, l2: 1},
	"clv.grid":    {l1: 2, l2: math.Sqrt2},
	"rfm.sums":    {codec: true},
	"km.moments":  {codec: true},
	"km.step":     {codec: true},
	"clv.start":   {codec: true},
	"clv.bgnbd":   {codec: true},
	"clv.gg":      {codec: true},
	"seg.channel": {codec: true},
}

// Sensitivity returns the L1 and L2 sensitivity of a jobs statistic's
// site vector to adding or removing one user, for the given params: what
// jobs.Local guarantees by construction, and what a Provider declares in
// its Binding. Errors wrap securesum.ErrUnknownStatistic (not a jobs
// statistic) or securesum.ErrBadSpec (params without a usable codec).
func Sensitivity(name string, params []byte) (l1, l2 float64, err error) {
	k, ok := sensitivities[name]
	if !ok {
		return 0, 0, fmt.Errorf("statistic %q is not a jobs statistic: %w", name, securesum.ErrUnknownStatistic)
	}
	if !k.codec {
		return k.l1, k.l2, nil
	}
	var p struct {
		Codec *jobs.Codec `json:"codec"`
	}
	if err := json.NewDecoder(bytes.NewReader(params)).Decode(&p); err != nil || p.Codec == nil {
		return 0, 0, fmt.Errorf("statistic %s: params without a codec (%v): %w", name, err, securesum.ErrBadSpec)
	}
	l1, l2 = codecSensitivity(*p.Codec)
	if !(l2 > 0) || math.IsInf(l1, 0) {
		return 0, 0, fmt.Errorf("statistic %s: codec %+v bounds no user: %w", name, *p.Codec, securesum.ErrBadSpec)
	}
	return l1, l2, nil
}

// codecSensitivity bounds one user's record of c: Width coordinates, each
// of magnitude at most UserBound (balanced: |round(v/b·Scale)| ≤ Scale, one
// coordinate per value; exact: limbs in [0, 2²¹) or |top| ≤ 2²⁰, and the
// clamp counter at most the number of values), so L1 = Width·UserBound and
// L2 = √Width·UserBound. For the balanced codec this is exactly the
// touched·Scale the jobs use; for the exact codec (DP off only, where no
// site checks it) it is a safe over-estimate.
func codecSensitivity(c jobs.Codec) (l1, l2 float64) {
	w, u := float64(c.Width()), float64(c.UserBound())
	if len(c.Bounds) == 0 || !(u > 0) {
		return 0, 0
	}
	return w * u, math.Sqrt(w) * u
}
