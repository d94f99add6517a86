package synth

import (
	"math"
	"math/rand/v2"
)

// Stream identifiers mixed into the seed: the population and each site draw
// from their own PCG stream.
const (
	streamPopulation = 0x706f70756c617469 // "populati"
	streamSite       = 0x7369746500000000 // "site" + index
)

// reach weighs how likely a channel is to be among a user's channels.
var reach = [3]float64{BrandStore: 0.30, Marketplace: 0.45, MiniProgram: 0.25}

// population is the shared user base: who belongs where, when they arrive and
// leave, how often they buy and how much, and who invited whom. Indices are
// user numbers minus one.
type population struct {
	cfg     Config
	rate    []float32 // base extra orders per intensity-day
	mu      []float32 // log order value (currency units) before channel shifts
	leave   []int32   // exclusive last day: no orders on or after it
	mask    []uint8   // bit c set: member of channel c
	churned []bool    // lifetime ended before the period's end
	start   [3][]int32
	inviter [3][]uint32 // 1 + inviter's index, 0 = none
	ids     userIDs
}

func newPopulation(cfg Config) (*population, error) {
	n, days := cfg.Users, cfg.Days
	p := &population{
		cfg:     cfg,
		rate:    make([]float32, n),
		mu:      make([]float32, n),
		leave:   make([]int32, n),
		mask:    make([]uint8, n),
		churned: make([]bool, n),
	}
	for c := range p.start {
		p.start[c] = make([]int32, n)
		p.inviter[c] = make([]uint32, n)
	}
	ids, err := newUserIDs(cfg.UserIDFormat, n)
	if err != nil {
		return nil, err
	}
	p.ids = ids
	r := rand.New(rand.NewPCG(cfg.Seed, streamPopulation))
	rateScale := cfg.OrdersPerYear / cfg.RateShape / 365
	one, two := cfg.Overlap.One, cfg.Overlap.One+cfg.Overlap.Two
	for i := range n {
		p.rate[i] = float32(gamma(r, cfg.RateShape) * rateScale)
		p.mu[i] = float32(3.4 + 0.7*r.NormFloat64())

		early := r.Float64() < cfg.Early
		arrive := int32(0)
		if !early {
			arrive = int32(r.IntN(days))
		}
		leave := int32(days)
		if r.Float64() < cfg.Churn {
			life := 1 + math.Floor(r.ExpFloat64()*cfg.ChurnMeanDays)
			if l := float64(arrive) + life; l < float64(days) {
				leave = int32(l)
				p.churned[i] = true
			}
		}
		p.leave[i] = leave

		k := 3
		if u := r.Float64(); u < one {
			k = 1
		} else if u < two {
			k = 2
		}
		var picked [3]int
		var m uint8
		for j := range k {
			c := pickChannel(r, m)
			picked[j] = c
			m |= 1 << c
		}
		p.mask[i] = m
		for c := range 3 {
			p.start[c][i] = -1
		}
		window := leave - arrive
		first := arrive
		if early {
			first += int32(r.IntN(int(min(window, 60))))
		}
		p.start[picked[0]][i] = first
		for j := 1; j < k; j++ {
			p.start[picked[j]][i] = arrive + int32(r.Float64()*float64(window)/2)
		}
	}
	for c := range 3 {
		frac := cfg.Referred
		if c == MiniProgram {
			frac = cfg.Invited
		}
		p.linkInviters(r, c, frac)
	}
	return p, nil
}

// pickChannel draws a channel not in taken, by reach weight.
func pickChannel(r *rand.Rand, taken uint8) int {
	total := 0.0
	for c, w := range reach {
		if taken&(1<<c) == 0 {
			total += w
		}
	}
	u := r.Float64() * total
	last := 0
	for c, w := range reach {
		if taken&(1<<c) != 0 {
			continue
		}
		last = c
		if u < w {
			return c
		}
		u -= w
	}
	return last
}

// linkInviters gives a fraction frac of channel c's members an inviter among
// the members who joined c on an earlier day. Half of the time the inviter is
// copied from a random earlier member's own inviter (preferential
// attachment), else it is that earlier member.
func (p *population) linkInviters(r *rand.Rand, c int, frac float64) {
	if frac == 0 {
		return
	}
	days := p.cfg.Days
	start := p.start[c]
	// Counting sort of members by join day; before[d] = members joined < d.
	before := make([]int, days+1)
	for _, s := range start {
		if s >= 0 {
			before[s+1]++
		}
	}
	for d := 1; d <= days; d++ {
		before[d] += before[d-1]
	}
	order := make([]uint32, before[days])
	next := make([]int, days)
	copy(next, before[:days])
	for i, s := range start {
		if s >= 0 {
			order[next[s]] = uint32(i)
			next[s]++
		}
	}
	inv := p.inviter[c]
	for _, i := range order {
		earlier := before[start[i]]
		if earlier == 0 || r.Float64() >= frac {
			continue
		}
		cand := order[r.IntN(earlier)]
		if r.Float64() < 0.5 && inv[cand] != 0 {
			inv[i] = inv[cand]
		} else {
			inv[i] = cand + 1
		}
	}
}

// gamma draws Gamma(shape, 1) by Marsaglia and Tsang (2000), boosting shapes
// below 1 with U^(1/shape).
func gamma(r *rand.Rand, shape float64) float64 {
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(1-r.Float64(), 1/shape) // U in (0, 1]
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}

// truth counts the population-level ground truth.
func (p *population) truth() Truth {
	t := Truth{Users: p.cfg.Users, Memberships: map[string]int{}}
	var bySet [8]int
	for i, m := range p.mask {
		bySet[m]++
		if p.churned[i] {
			t.Churned++
		}
	}
	for m := 1; m < 8; m++ {
		if bySet[m] == 0 {
			continue
		}
		t.Memberships[setName(uint8(m))] = bySet[m]
		k := 0
		for c := range 3 {
			if m&(1<<c) != 0 {
				k++
				t.Sites[c].Users += bySet[m]
			}
		}
		t.InChannels[k] += bySet[m]
	}
	for c := range 3 {
		t.Sites[c].Site = Sites[c]
		for _, v := range p.inviter[c] {
			if v != 0 {
				t.Sites[c].Invited++
			}
		}
	}
	return t
}
