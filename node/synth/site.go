package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

// Channel behaviour: purchase frequency multiplier, shift of the log order
// value (price level) and per-order log-normal σ.
var (
	frequency  = [3]float64{BrandStore: 0.6, Marketplace: 1.0, MiniProgram: 1.8}
	priceLevel = [3]float64{BrandStore: 0.3, Marketplace: 0, MiniProgram: -0.55}
	orderSigma = [3]float64{BrandStore: 0.7, Marketplace: 0.8, MiniProgram: 0.6}
)

// promoDiscount shifts the log order value on promotion days.
const promoDiscount = -0.2

// orderBase is the first order id of site c minus one: site c's ids are
// (c+1)·1e9 + 1, + 2, ... so they are unique across the three sites.
const orderBase = 1_000_000_000

// member is one user's state on one site.
type member struct {
	user    uint32
	inviter uint32  // 1 + inviter's user index, 0 = none
	start   int32   // join day: the first order's day
	leave   int32   // no orders on or after this day
	rate    float32 // extra orders per intensity-day
	mu      float32 // log order value on this site
	next    float64 // intensity time of the next order; < 0: the first order is due
}

// siteGen produces one site's rows in time order.
type siteGen struct {
	pop     *population
	c       int
	cal     calendar
	r       *rand.Rand
	members []member
}

func newSiteGen(p *population, c int) *siteGen {
	g := &siteGen{
		pop: p,
		c:   c,
		cal: newCalendar(c, p.cfg.Start, p.cfg.Days),
		r:   rand.New(rand.NewPCG(p.cfg.Seed, streamSite+uint64(c))),
	}
	n := 0
	for _, s := range p.start[c] {
		if s >= 0 {
			n++
		}
	}
	g.members = make([]member, 0, n)
	for i, s := range p.start[c] {
		if s < 0 {
			continue
		}
		affinity := math.Exp(0.3*g.r.NormFloat64() - 0.045) // mean 1
		g.members = append(g.members, member{
			user:    uint32(i),
			inviter: p.inviter[c][i],
			start:   s,
			leave:   p.leave[i],
			rate:    float32(float64(p.rate[i]) * frequency[c] * affinity),
			mu:      p.mu[i] + float32(priceLevel[c]+0.25*g.r.NormFloat64()),
			next:    -1,
		})
	}
	return g
}

// stats is what a site run produced.
type stats struct {
	orders, revenue int64
}

// run emits the site's rows in ts order, one day at a time. It stops early,
// without error, when stop is set.
func (g *siteGen) run(stop *atomic.Bool, emit func(*Row) error) (stats, error) {
	var st stats
	days := g.pop.cfg.Days
	buckets := make([][]uint32, days)
	for i := range g.members {
		s := g.members[i].start
		buckets[s] = append(buckets[s], uint32(i))
	}
	startUnix := g.pop.cfg.Start.Unix()
	base := uint64(g.c+1) * orderBase
	sigma := orderSigma[g.c]
	var (
		keys  []uint64 // second of day << 40 | index into who/invs/cents
		who   []uint32 // user index
		invs  []uint32 // 1 + inviter's user index, 0 = none
		cents []int64
		row   Row
		user  []byte
		inv   []byte
		free  [][]uint32 // emptied buckets, reused for later days
	)
	for d := range int32(days) {
		if stop != nil && stop.Load() {
			return st, nil
		}
		promo := g.cal.promo[d]
		shift := 0.0
		if promo {
			shift = promoDiscount
		}
		keys, who, invs, cents = keys[:0], who[:0], invs[:0], cents[:0]
		// Walk the day's members in index order: memory is touched in one
		// sweep instead of at random. The bucket may grow while we walk it
		// (a second order on the same day); those few come last.
		slices.Sort(buckets[d])
		for k := 0; k < len(buckets[d]); k++ {
			i := buckets[d][k]
			m := &g.members[i]
			tod := timeOfDay(g.r, g.c, promo)
			v := math.Exp(float64(m.mu) + shift + sigma*g.r.NormFloat64())
			keys = append(keys, uint64(tod)<<40|uint64(len(who)))
			who = append(who, m.user)
			invs = append(invs, m.inviter)
			cents = append(cents, max(1, int64(math.Round(v*100))))

			x := m.next
			if x < 0 {
				x = g.cal.cum[m.start+1]
			}
			x += g.r.ExpFloat64() / float64(m.rate)
			if x < g.cal.cum[m.leave] {
				m.next = x
				nd := g.cal.dayOf(x, d, m.leave)
				if buckets[nd] == nil && len(free) > 0 {
					buckets[nd], free = free[len(free)-1], free[:len(free)-1]
				}
				buckets[nd] = append(buckets[nd], i)
			} else {
				m.next = math.Inf(1)
			}
		}
		if cap(buckets[d]) > 0 {
			free = append(free, buckets[d][:0])
		}
		buckets[d] = nil
		slices.Sort(keys)
		for _, key := range keys {
			j := key & (1<<40 - 1)
			st.orders++
			if st.orders >= orderBase {
				return st, fmt.Errorf("site %s: more than %d orders: %w", Sites[g.c], orderBase-1, ErrInvalidConfig)
			}
			user = g.pop.ids.appendID(user[:0], who[j])
			row.User = user
			row.Inviter = nil
			if invs[j] != 0 {
				inv = g.pop.ids.appendID(inv[:0], invs[j]-1)
				row.Inviter = inv
			}
			row.Order = base + uint64(st.orders)
			row.Unix = startUnix + int64(d)*86400 + int64(key>>40)
			row.Cents = cents[j]
			st.revenue += row.Cents
			if err := emit(&row); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}
