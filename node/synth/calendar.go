package synth

import (
	"math"
	"math/rand/v2"
	"time"
)

// calendar is a channel's daily purchase intensity over the period.
type calendar struct {
	// cum[d] is the intensity accumulated before day d (cum[0] = 0), in
	// units of an average day: cum[Days] = Days.
	cum []float64
	// promo[d]: a promotion day (discounted orders, midnight rush).
	promo []bool
}

// promotions are the marketplace's shopping festivals (month, day, intensity).
var promotions = []struct {
	month time.Month
	day   int
	mult  float64
}{{time.March, 8, 2.5}, {time.June, 18, 6}, {time.November, 11, 9}, {time.December, 12, 4}}

// dayIntensity is the relative purchase intensity on date t for channel c.
func dayIntensity(c int, t time.Time) (mult float64, promo bool) {
	mult = 1
	wd := t.Weekday()
	weekend := wd == time.Saturday || wd == time.Sunday
	switch c {
	case BrandStore:
		if weekend {
			mult *= 1.15
		}
		if t.Month() == time.November && t.Day() >= 24 && t.Day() <= 27 {
			mult *= 2 // the brand's own autumn sale
		}
	case Marketplace:
		if wd == time.Sunday {
			mult *= 1.1
		}
		for _, p := range promotions {
			if t.Month() != p.month {
				continue
			}
			switch t.Day() - p.day {
			case 0:
				mult *= p.mult
				promo = true
			case -1, -2:
				mult *= 1.6 // pre-sale
			}
		}
	case MiniProgram:
		if weekend || wd == time.Friday {
			mult *= 1.2
		}
		if t.Day() == 18 {
			mult *= 1.6 // monthly group-buy day
		}
	}
	if t.Month() == time.December {
		mult *= 1.2
	}
	return mult, promo
}

func newCalendar(c int, start time.Time, days int) calendar {
	cal := calendar{cum: make([]float64, days+1), promo: make([]bool, days)}
	raw := make([]float64, days)
	total := 0.0
	for d := range days {
		raw[d], cal.promo[d] = dayIntensity(c, start.AddDate(0, 0, d))
		total += raw[d]
	}
	scale := float64(days) / total
	for d := range days {
		cal.cum[d+1] = cal.cum[d] + raw[d]*scale
	}
	return cal
}

// dayOf returns the day d in [from, to) with cum[d] <= x < cum[d+1], for
// cum[from] <= x < cum[to].
func (cal *calendar) dayOf(x float64, from, to int32) int32 {
	lo, hi := from, to-1 // invariant: cum[lo] <= x, answer <= hi
	for lo < hi {
		mid := int32(uint32(lo+hi+1) >> 1)
		if cal.cum[mid] <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// timeOfDay draws the second of the day of an order on channel c.
func timeOfDay(r *rand.Rand, c int, promo bool) int64 {
	if promo && r.Float64() < 0.25 {
		return int64(r.Float64() * 3600) // the midnight rush of a festival
	}
	u := r.Float64()
	var h float64
	switch {
	case c == MiniProgram && u < 0.15:
		h = 8.3 + 0.8*r.NormFloat64() // morning commute
	case c == MiniProgram && u < 0.45:
		h = 12.5 + 1.5*r.NormFloat64()
	case c == MiniProgram:
		h = 21.3 + 1.8*r.NormFloat64()
	case u < 0.4:
		h = 12.5 + 2.5*r.NormFloat64()
	default:
		h = 20 + 2.5*r.NormFloat64()
	}
	return floorMod(int64(math.Floor(h*3600)), 86400)
}
