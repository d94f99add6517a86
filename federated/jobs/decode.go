package jobs

import (
	"fmt"
	"slices"

	"github.com/strata-fed/strata/federated/segmodel"
)

// StatChannels is the statistic name of the segment × channel round
// (RunChannels): readers of the log find that round by it.
const StatChannels = statChannels

// DecodeChannels decodes the released vector of a seg.channel round into
// the segment × channel table, given the round's params as the log records
// them: what RunChannels returns from the same sum, for readers of the log
// (a node's report) that were not the coordinator. Cost is left zero (the
// budget ledger records what the round was charged). It is pure; errors
// wrap ErrParams (params that are not a seg.channel round's, or a vector of
// the wrong length).
func DecodeChannels(params []byte, released []int64) (*Channels, error) {
	var p channelParams
	if err := decodeParams(params, &p); err != nil {
		return nil, fmt.Errorf("decode channels: %w", err)
	}
	m, err := segmodel.Decode(p.Model)
	if err != nil {
		return nil, fmt.Errorf("decode channels: model: %w: %w", err, ErrParams)
	}
	c := p.Codec
	if err := c.validate(); err != nil || len(c.Bounds) != 3 {
		return nil, fmt.Errorf("decode channels: codec %+v (%v): %w", c, err, ErrParams)
	}
	if len(p.Channels) == 0 || len(p.Channels) > MaxChannels || hasDup(p.Channels) {
		return nil, fmt.Errorf("decode channels: channels %q: %w", p.Channels, ErrParams)
	}
	segs := m.Segments()
	if want := len(p.Channels) * len(segs) * c.Width(); len(released) != want {
		return nil, fmt.Errorf("decode channels: %d values released, want %d (%d channels × %d segments × %d): %w",
			len(released), want, len(p.Channels), len(segs), c.Width(), ErrParams)
	}
	return channelTable(segs, p.Channels, c, released), nil
}

// channelTable decodes a summed seg.channel vector (channel-major blocks of
// one codec record per segment).
func channelTable(segs, channels []string, c Codec, v []int64) *Channels {
	w := c.Width()
	res := &Channels{Segments: slices.Clone(segs), Channels: slices.Clone(channels), Cost: Cost{Job: "channels"}}
	for ci, ch := range channels {
		for si, sg := range segs {
			off := (ci*len(segs) + si) * w
			t, _ := c.decode(v[off : off+w])
			res.Cells = append(res.Cells, Cell{Segment: sg, Channel: ch, Users: t[0], RevenueCents: t[1], CLVCents: t[2]})
		}
	}
	return res
}
