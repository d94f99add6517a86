package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/strata-fed/strata/federated/segmodel"
)

const statChannels = "seg.channel"

// MaxChannels bounds the channels of a segment × channel report.
const MaxChannels = 1024

type channelParams struct {
	Model    json.RawMessage `json:"model"`
	Channels []string        `json:"channels"`
	Codec    Codec           `json:"codec"`
}

// Cell is one segment × channel aggregate.
type Cell struct {
	Segment, Channel string
	// Users, RevenueCents and CLVCents are released sums (noised with DP
	// on): users, their net monetary value, and their CLV in cents (users
	// without a CLV prediction add 0).
	Users, RevenueCents, CLVCents float64
}

// Channels is the segment × channel report.
type Channels struct {
	Segments, Channels []string
	// Cells are channel-major: Cells[c*len(Segments)+s].
	Cells []Cell
	Cost  Cost
}

// Cell returns the cell of a segment and channel index.
func (c *Channels) Cell(channel, seg int) Cell { return c.Cells[channel*len(c.Segments)+seg] }

// SegmentUsers returns the released users per segment over all channels.
func (c *Channels) SegmentUsers() []float64 {
	out := make([]float64, len(c.Segments))
	for i, cell := range c.Cells {
		out[i%len(c.Segments)] += cell.Users
	}
	return out
}

// RunChannels counts users, revenue and CLV per segment × channel under a
// committed model. Every site is one channel (SiteData.Channel, which must
// be in channels); it labels its own users with the model and fills its
// channel's block.
//
// One round, seg.channel: length len(channels)·len(segments)·Width, 3
// values per cell (1, monetary cents, CLV cents). DP off: exact codec, Frac
// 0 (CLV rounded to whole cents per user). DP on: balanced codec with
// bounds 1, clipCents and clipCents (users beyond are clamped; take clip from
// the released monetary histogram). Each site-user touches 3 coordinates: L1
// = 3·Scale, L2 = √3·Scale. The unit of privacy is one user's record at one
// site: a person present at c sites is protected at c times the cost (group
// privacy).
func RunChannels(ctx context.Context, s Summer, p Privacy, m *segmodel.Model, channels []string, clipCents float64) (*Channels, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	enc, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	if len(channels) == 0 || len(channels) > MaxChannels || hasDup(channels) {
		return nil, fmt.Errorf("channels %q: %w", channels, ErrParams)
	}
	var c Codec
	if p.Off() {
		c = exactCodec(0, 1, 1<<50, 1<<50)
	} else {
		if !(clipCents >= 1) || math.IsInf(clipCents, 0) {
			return nil, fmt.Errorf("channels: clip %v: %w", clipCents, ErrParams)
		}
		c = balancedCodec(1, clipCents, clipCents)
	}
	segs := m.Segments()
	w := c.Width()
	q := p.query(Query{Statistic: statChannels, Params: encodeParams(channelParams{Model: enc, Channels: channels, Codec: c}), Length: len(channels) * len(segs) * w, Lo: -c.UserBound(), Hi: c.UserBound()})
	q.L1, q.L2 = c.sensitivity(3)
	v, err := sum(ctx, s, q)
	if err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	res := channelTable(segs, channels, c, v)
	res.Cost.paid(p)
	return res, nil
}

func hasDup(s []string) bool {
	c := slices.Clone(s)
	slices.Sort(c)
	return len(slices.Compact(c)) != len(s)
}

func localChannels(params []byte, d *segmodel.SiteData) ([]int64, error) {
	var p channelParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	m, err := segmodel.Decode(p.Model)
	if err != nil {
		return nil, fmt.Errorf("seg.channel model: %w: %w", err, ErrParams)
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) != 3 {
		return nil, fmt.Errorf("seg.channel codec: %v: %w", err, ErrParams)
	}
	ci := slices.Index(p.Channels, d.Channel)
	if ci < 0 || hasDup(p.Channels) || len(p.Channels) > MaxChannels {
		return nil, fmt.Errorf("seg.channel: site channel %q not in %q: %w", d.Channel, p.Channels, ErrParams)
	}
	labels, err := segmodel.Label(m, d)
	if err != nil {
		return nil, fmt.Errorf("seg.channel: %w", err)
	}
	ns, w := len(m.Segments()), c.Width()
	out := make([]int64, len(p.Channels)*ns*w)
	cols := d.Columns()
	for i, l := range labels {
		blk := out[(ci*ns+int(l.Segment))*w:][:w]
		c.add(blk, 0, 1)
		c.add(blk, 1, float64(cols.MonetaryCents[i]))
		cv := l.CLV * 100
		if math.IsNaN(cv) {
			cv = 0
		}
		c.add(blk, 2, cv)
	}
	return out, nil
}
