package jobs

import (
	"bufio"
	"compress/gzip"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/analytics/clv"
)

// synthColumns generates n users from the models' own processes: BG/NBD
// purchasing (λ ~ Gamma(0.8, rate 6/week), dropout after each repeat
// purchase with p ~ Beta(0.8, 3)) over ages of 0..1,100 days, and
// Gamma-Gamma spend (values Gamma(3, ν), ν ~ Gamma(4, rate 40)): heavy-tailed
// purchase counts and spends, churn, and consistent RFM, lifecycle and CLV
// columns (weeks).
func synthColumns(n int, seed uint64) segmodel.Columns {
	rng := rand.New(rand.NewPCG(seed, 7))
	c := segmodel.Columns{
		RecencyDays: make([]int64, n), Frequency: make([]int64, n), MonetaryCents: make([]int64, n),
		TenureDays: make([]int64, n), PrevDays: make([]int64, n), CLV: make([]clv.Summary, n),
		MeanValue: make([]float64, n), InCLV: make([]bool, n),
	}
	for i := range n {
		tDays := 1 + rng.Float64()*1099
		T := tDays / 7
		lambda := gammaRand(rng, 0.8) / 6
		a, b := gammaRand(rng, 0.8), gammaRand(rng, 3)
		p := a / (a + b)
		nu := gammaRand(rng, 4) / 40
		first := gammaRand(rng, 3) / nu
		var x int
		var t, tx, prev, repeat float64
		for {
			t += -math.Log(1-rng.Float64()) / lambda
			if t > T {
				break
			}
			x++
			prev, tx = tx, t
			repeat += gammaRand(rng, 3) / nu
			if rng.Float64() < p {
				break
			}
		}
		tenure := int64(math.Floor(tDays))
		rec := tenure - int64(math.Floor(tx*7))
		pd := int64(-1)
		if x >= 1 {
			pd = tenure - int64(math.Floor(prev*7))
		}
		c.RecencyDays[i], c.Frequency[i], c.TenureDays[i], c.PrevDays[i] = rec, int64(x+1), tenure, pd
		c.MonetaryCents[i] = int64(math.Round((first + repeat) * 100))
		c.CLV[i] = clv.Summary{X: float64(x), Tx: tx, T: T}
		if x > 0 {
			c.MeanValue[i] = repeat / float64(x)
		}
		c.InCLV[i] = true
	}
	return c
}

// gammaRand draws Gamma(shape k, rate 1) (Marsaglia–Tsang; boosted for k < 1).
func gammaRand(rng *rand.Rand, k float64) float64 {
	if k < 1 {
		return gammaRand(rng, k+1) * math.Pow(1-rng.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// splitColumns assigns each user of c to one of k sites at random.
func splitColumns(t testing.TB, c segmodel.Columns, k int, seed uint64, channels []string) []*segmodel.SiteData {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	parts := make([]segmodel.Columns, k)
	for i := range c.RecencyDays {
		j := rng.IntN(k)
		p := &parts[j]
		p.RecencyDays = append(p.RecencyDays, c.RecencyDays[i])
		p.Frequency = append(p.Frequency, c.Frequency[i])
		p.MonetaryCents = append(p.MonetaryCents, c.MonetaryCents[i])
		p.TenureDays = append(p.TenureDays, c.TenureDays[i])
		p.PrevDays = append(p.PrevDays, c.PrevDays[i])
		p.CLV = append(p.CLV, c.CLV[i])
		p.MeanValue = append(p.MeanValue, c.MeanValue[i])
		p.InCLV = append(p.InCLV, c.InCLV[i])
	}
	sites := make([]*segmodel.SiteData, k)
	for j := range parts {
		ch := "site" + strconv.Itoa(j)
		if channels != nil {
			ch = channels[j]
		}
		d, err := segmodel.NewSiteData(ch, parts[j])
		if err != nil {
			t.Fatal(err)
		}
		sites[j] = d
	}
	return sites
}

func pooled(t testing.TB, sites []*segmodel.SiteData) *segmodel.SiteData {
	t.Helper()
	p, err := segmodel.Concat(sites...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cdnowColumns reads the CDNOW 1/10 sample (as node/analytics/clv's tests
// do: same-day purchases merged, weeks, calibration to 1997-09-30) into
// columns: CLV summaries and mean repeat values, RFM values at the
// calibration end.
func cdnowColumns(t testing.TB) segmodel.Columns {
	t.Helper()
	f, err := os.Open("testdata/cdnow_sample.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ id, day int }
	spend := map[key]float64{}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 5 {
			t.Fatalf("%d fields", len(fs))
		}
		id, err1 := strconv.Atoi(fs[1])
		d, err2 := time.Parse("20060102", fs[2])
		v, err3 := strconv.ParseFloat(fs[4], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		spend[key{id, int(d.Unix() / 86400)}] += v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	keys := make([]key, 0, len(spend))
	for k := range spend {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].day < keys[j].day
	})
	const n = 2357
	times := make([][]float64, n)
	values := make([][]float64, n)
	days := make([][]int, n)
	for _, k := range keys {
		times[k.id-1] = append(times[k.id-1], float64(k.day)/7)
		values[k.id-1] = append(values[k.id-1], spend[k])
		days[k.id-1] = append(days[k.id-1], k.day)
	}
	calDay := int(time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	calEnd := float64(calDay) / 7
	c := segmodel.Columns{InCLV: make([]bool, n), CLV: make([]clv.Summary, n), MeanValue: make([]float64, n)}
	for i := range n {
		c.CLV[i] = clv.SummaryFromTimes(times[i], calEnd)
		c.MeanValue[i] = clv.MeanRepeatValue(times[i], values[i], calEnd)
		c.InCLV[i] = true
		// RFM at the calibration end, over calibration purchases.
		var f, m int64
		first, last, prev := days[i][0], days[i][0], -1
		for j, d := range days[i] {
			if d > calDay {
				break
			}
			f++
			m += int64(math.Round(values[i][j] * 100))
			prev, last = last, d
		}
		if f < 2 {
			prev = -1
		}
		c.RecencyDays = append(c.RecencyDays, int64(calDay-last))
		c.Frequency = append(c.Frequency, f)
		c.MonetaryCents = append(c.MonetaryCents, m)
		c.TenureDays = append(c.TenureDays, int64(calDay-first))
		pd := int64(-1)
		if prev >= 0 {
			pd = int64(calDay - prev)
		}
		c.PrevDays = append(c.PrevDays, pd)
	}
	return c
}

func relDiff(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300)
}
