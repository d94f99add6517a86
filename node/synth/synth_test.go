package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/strata-fed/strata/node/ingest"
)

// testUsers is the population of the shared test data set: large enough for
// the statistical checks to be stable, small enough to run in well under a
// second.
const testUsers = 40_000

type testRow struct {
	user, inviter string
	order         uint64
	unix, cents   int64
}

type dataset struct {
	truth Truth
	rows  [3][]testRow
}

var (
	sharedOnce sync.Once
	shared     dataset
	sharedErr  error
)

// testData generates the shared data set once per test binary.
func testData(t *testing.T) *dataset {
	t.Helper()
	sharedOnce.Do(func() {
		shared.truth, sharedErr = Generate(Config{Users: testUsers, Seed: 42}, func(site string, r Row) error {
			c := slices.Index(Sites[:], site)
			shared.rows[c] = append(shared.rows[c], testRow{string(r.User), string(r.Inviter), r.Order, r.Unix, r.Cents})
			return nil
		})
	})
	if sharedErr != nil {
		t.Fatalf("Generate: %v", sharedErr)
	}
	return &shared
}

func hashFiles(t *testing.T, paths []string) [3][32]byte {
	t.Helper()
	var h [3][32]byte
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h[i] = sha256.Sum256(b)
	}
	return h
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Users: 5_000, Seed: 7}
	a, err := WriteFiles(cfg, t.TempDir())
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	b, err := WriteFiles(cfg, t.TempDir())
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	ha, hb := hashFiles(t, a), hashFiles(t, b)
	if ha != hb {
		t.Fatalf("same config, different files: %x vs %x", ha, hb)
	}
	// Generate streams exactly the bytes WriteFiles writes.
	var streamed [3][]byte
	for i := range streamed {
		streamed[i] = []byte(Header + "\n")
	}
	if _, err := Generate(cfg, func(site string, r Row) error {
		i := slices.Index(Sites[:], site)
		streamed[i] = r.AppendCSV(streamed[i], site)
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	for i := range streamed {
		if got := sha256.Sum256(streamed[i]); got != ha[i] {
			t.Errorf("Generate(%s) hash %x, WriteFiles %x", Sites[i], got, ha[i])
		}
	}
	cfg.Seed = 8
	c, err := WriteFiles(cfg, t.TempDir())
	if err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	hc := hashFiles(t, c)
	for i := range hc {
		if hc[i] == ha[i] {
			t.Errorf("seeds 7 and 8 give the same %s file", Sites[i])
		}
	}
}

var (
	amountRE = regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)
	userRE   = regexp.MustCompile(`^u[0-9]{6,}$`)
)

// TestSchema parses every row of the written files back, and reads them with
// the ingest package's standard-schema source, as the local engine does.
func TestSchema(t *testing.T) {
	cfg := Config{Users: 8_000, Seed: 3}
	paths, truth, err := WriteSites(cfg, t.TempDir())
	if err != nil {
		t.Fatalf("WriteSites: %v", err)
	}
	start, end := DefaultStart.Unix(), DefaultStart.AddDate(0, 0, DefaultDays).Unix()
	for s, path := range paths {
		if filepath.Base(path) != Sites[s]+".csv" {
			t.Errorf("path %s, want %s.csv", path, Sites[s])
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := joinFields(recs[0]); got != Header {
			t.Fatalf("%s header %q, want %q", path, got, Header)
		}
		orders := map[string]bool{}
		users := map[string]bool{}
		var revenue, prev int64
		for i, rec := range recs[1:] {
			where := fmt.Sprintf("%s row %d %q", Sites[s], i+2, rec)
			if len(rec) != 6 {
				t.Fatalf("%s: %d fields", where, len(rec))
			}
			if !userRE.MatchString(rec[0]) {
				t.Fatalf("%s: user id", where)
			}
			users[rec[0]] = true
			if orders[rec[1]] {
				t.Fatalf("%s: order id repeated", where)
			}
			orders[rec[1]] = true
			ts, err := time.Parse(time.RFC3339, rec[2])
			if err != nil || ts.UTC().Format("2006-01-02T15:04:05Z") != rec[2] {
				t.Fatalf("%s: timestamp: %v", where, err)
			}
			if ts.Unix() < start || ts.Unix() >= end {
				t.Fatalf("%s: timestamp outside the period", where)
			}
			if ts.Unix() < prev {
				t.Fatalf("%s: not sorted by ts", where)
			}
			prev = ts.Unix()
			if !amountRE.MatchString(rec[3]) || rec[3] == "0.00" {
				t.Fatalf("%s: amount", where)
			}
			cents, _ := strconv.ParseInt(rec[3][:len(rec[3])-3]+rec[3][len(rec[3])-2:], 10, 64)
			revenue += cents
			if rec[4] != Sites[s] {
				t.Fatalf("%s: channel, want %s", where, Sites[s])
			}
			if rec[5] != "" && !userRE.MatchString(rec[5]) {
				t.Fatalf("%s: inviter id", where)
			}
		}
		st := truth.Sites[s]
		if int64(len(recs)-1) != st.Orders || revenue != st.RevenueCents || len(users) != st.Users {
			t.Errorf("%s: %d rows, %d cents, %d users; truth %+v", Sites[s], len(recs)-1, revenue, len(users), st)
		}

		var acc ingest.Accounting
		var rows int64
		acc, err = ingest.DefaultSource(path).Read(context.Background(), func(*ingest.Row) error { rows++; return nil }, nil)
		if err != nil {
			t.Fatalf("ingest %s: %v", path, err)
		}
		if acc.Accepted != st.Orders || rows != st.Orders || acc.Read != st.Orders {
			t.Errorf("ingest %s: read %d accepted %d callbacks %d, want %d", path, acc.Read, acc.Accepted, rows, st.Orders)
		}
	}
}

func joinFields(rec []string) string {
	var b bytes.Buffer
	for i, f := range rec {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f)
	}
	return b.String()
}

func TestOrderIDsUniqueAcrossSites(t *testing.T) {
	d := testData(t)
	seen := map[uint64]bool{}
	for s := range d.rows {
		var prev uint64
		for _, r := range d.rows[s] {
			if seen[r.order] || r.order <= prev {
				t.Fatalf("%s: order id %d repeated or not increasing (previous %d)", Sites[s], r.order, prev)
			}
			seen[r.order], prev = true, r.order
		}
	}
}

func TestOverlap(t *testing.T) {
	d := testData(t)
	// The truth matches the rows.
	sets := map[string]uint8{}
	for s := range d.rows {
		for _, r := range d.rows[s] {
			sets[r.user] |= 1 << s
		}
	}
	if len(sets) != testUsers {
		t.Errorf("%d users have orders, want all %d", len(sets), testUsers)
	}
	count := map[string]int{}
	var k [4]int
	for _, m := range sets {
		count[setName(m)]++
		k[popcount(m)]++
	}
	if !mapsEqual(count, d.truth.Memberships) || k != d.truth.InChannels {
		t.Errorf("rows give memberships %v %v, truth %v %v", count, k, d.truth.Memberships, d.truth.InChannels)
	}
	// The fractions are near the configured ones (binomial sd ≈ 0.0025).
	want := []float64{0, DefaultOverlap.One, DefaultOverlap.Two, DefaultOverlap.Three}
	for i := 1; i <= 3; i++ {
		if got := float64(k[i]) / testUsers; math.Abs(got-want[i]) > 0.015 {
			t.Errorf("users in exactly %d channels: %.3f, want %.2f", i, got, want[i])
		}
	}
	if got, want := d.truth.Shared(BrandStore, MiniProgram), count["brand-store+mini-program"]+count[setName(7)]; got != want {
		t.Errorf("Shared(brand-store, mini-program) = %d, want %d", got, want)
	}

	// A configured overlap is honoured.
	tr, err := Describe(Config{Users: 20_000, Seed: 1, Overlap: Overlap{One: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.InChannels[1] != 20_000 {
		t.Errorf("Overlap{One: 1}: in channels %v, want all in one", tr.InChannels)
	}
	tr, err = Describe(Config{Users: 20_000, Seed: 1, Overlap: Overlap{Two: 1, Three: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.InChannels[1] != 0 || math.Abs(float64(tr.InChannels[3])/20_000-0.5) > 0.02 {
		t.Errorf("Overlap{Two: 1, Three: 1}: in channels %v, want none in one, half in three", tr.InChannels)
	}
}

func popcount(m uint8) int { return int(m&1 + m>>1&1 + m>>2&1) }

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestHeavyTail(t *testing.T) {
	d := testData(t)
	perUser := map[string]int64{}
	var total int64
	for s := range d.rows {
		for _, r := range d.rows[s] {
			perUser[r.user] += r.cents
			total += r.cents
		}
	}
	rev := make([]int64, 0, len(perUser))
	for _, v := range perUser {
		rev = append(rev, v)
	}
	slices.Sort(rev)
	var top int64
	for _, v := range rev[len(rev)*9/10:] {
		top += v
	}
	share := float64(top) / float64(total)
	t.Logf("top 10%% of users hold %.3f of revenue", share)
	if share <= 0.5 {
		t.Errorf("top 10%% of users hold %.3f of revenue, want > 0.5", share)
	}
	// Many one-off buyers and a long tail of frequent ones on every site.
	for s := range d.rows {
		orders := map[string]int{}
		for _, r := range d.rows[s] {
			orders[r.user]++
		}
		one, most := 0, 0
		for _, n := range orders {
			if n == 1 {
				one++
			}
			most = max(most, n)
		}
		if f := float64(one) / float64(len(orders)); f < 0.3 || f > 0.7 || most < 30 {
			t.Errorf("%s: %.2f of users have one order, the most active %d orders; want 0.3..0.7 and ≥ 30", Sites[s], f, most)
		}
	}
}

func TestChannelBehaviour(t *testing.T) {
	d := testData(t)
	var aov, perUser [3]float64
	for s := range d.rows {
		var sum int64
		for _, r := range d.rows[s] {
			sum += r.cents
		}
		aov[s] = float64(sum) / float64(len(d.rows[s]))
		perUser[s] = float64(len(d.rows[s])) / float64(d.truth.Sites[s].Users)
	}
	if !(aov[MiniProgram] < aov[Marketplace] && aov[Marketplace] < aov[BrandStore]) {
		t.Errorf("mean order value %v: want mini-program < marketplace < brand-store", aov)
	}
	if !(perUser[MiniProgram] > perUser[Marketplace] && perUser[Marketplace] > perUser[BrandStore]) {
		t.Errorf("orders per member %v: want mini-program > marketplace > brand-store", perUser)
	}
	// 11.11 on the marketplace: far above an ordinary day.
	byDay := map[string]int{}
	for _, r := range d.rows[Marketplace] {
		byDay[time.Unix(r.unix, 0).UTC().Format(time.DateOnly)]++
	}
	mean := float64(len(d.rows[Marketplace])) / DefaultDays
	if got := float64(byDay["2023-11-11"]); got < 4*mean {
		t.Errorf("marketplace orders on 2023-11-11: %v, want > 4 × the daily mean %.0f", got, mean)
	}
}

func TestInviters(t *testing.T) {
	d := testData(t)
	for s := range d.rows {
		first := map[string]int64{} // first order's day
		for _, r := range d.rows[s] {
			if _, ok := first[r.user]; !ok {
				first[r.user] = r.unix / 86400
			}
		}
		invited := map[string]string{}
		invites := map[string]int{}
		for _, r := range d.rows[s] {
			if r.inviter == "" {
				if v, ok := invited[r.user]; ok && v != "" {
					t.Fatalf("%s: user %s has an inviter on some rows only", Sites[s], r.user)
				}
				continue
			}
			if v, ok := invited[r.user]; ok && v != r.inviter {
				t.Fatalf("%s: user %s has inviters %s and %s", Sites[s], r.user, v, r.inviter)
			}
			if _, ok := invited[r.user]; ok {
				continue
			}
			invited[r.user] = r.inviter
			invites[r.inviter]++
			day, ok := first[r.inviter]
			if !ok {
				t.Fatalf("%s: inviter %s of %s has no order on this site", Sites[s], r.inviter, r.user)
			}
			if day >= first[r.user] {
				t.Fatalf("%s: inviter %s first bought on day %d, not before %s (day %d)", Sites[s], r.inviter, day, r.user, first[r.user])
			}
		}
		if len(invited) != d.truth.Sites[s].Invited {
			t.Errorf("%s: %d invited users, truth %d", Sites[s], len(invited), d.truth.Sites[s].Invited)
		}
		frac := float64(len(invited)) / float64(d.truth.Sites[s].Users)
		t.Logf("%s: %.3f of members invited", Sites[s], frac)
		want := DefaultReferred
		if s == MiniProgram {
			want = DefaultInvited
			// Chains (an inviter who was invited) and stars (key opinion leaders).
			chained, most := 0, 0
			for inviter, n := range invites {
				if invited[inviter] != "" {
					chained++
				}
				most = max(most, n)
			}
			if chained < 100 || most < 20 {
				t.Errorf("mini-program: %d invited inviters, most invites by one user %d; want chains and stars", chained, most)
			}
		}
		// Members with no earlier member cannot be invited: allow a little below.
		if frac > want+0.01 || frac < want-0.05 {
			t.Errorf("%s: %.3f of members invited, want about %.2f", Sites[s], frac, want)
		}
	}
}

// TestChurn checks that churned users buy nowhere on or after the day their
// lifetime ends, against the population's own record.
func TestChurn(t *testing.T) {
	cfg, err := Config{Users: 20_000, Seed: 5}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPopulation(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := cfg.Start.Unix() / 86400
	lastDay := make([]int64, cfg.Users)
	for s := range Sites {
		_, err := newSiteGen(p, s).run(nil, func(r *Row) error {
			n, err := strconv.Atoi(string(r.User[1:]))
			if err != nil {
				return err
			}
			lastDay[n-1] = max(lastDay[n-1], r.Unix/86400-start)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	churned := 0
	for i := range cfg.Users {
		if lastDay[i] >= int64(p.leave[i]) {
			t.Fatalf("user %d bought on day %d, on or after leaving on day %d", i+1, lastDay[i], p.leave[i])
		}
		if p.churned[i] {
			churned++
		}
	}
	// 40% churn; a lifetime of mean 120 days often ends inside the period.
	if f := float64(churned) / float64(cfg.Users); f < 0.3 || f > 0.4 {
		t.Errorf("%.3f of users churned, want 0.3..0.4", f)
	}
	if tr := p.truth(); tr.Churned != churned {
		t.Errorf("truth churned %d, want %d", tr.Churned, churned)
	}
	// No churn when switched off.
	tr, err := Describe(Config{Users: 5_000, Churn: -1})
	if err != nil || tr.Churned != 0 {
		t.Errorf("Describe(Churn: -1) churned %d, err %v; want 0, nil", tr.Churned, err)
	}
}

func TestUserIDFormat(t *testing.T) {
	for _, tc := range []struct {
		format string
		n      uint32
		want   string
	}{
		{"", 122, "u000123"},
		{"u%06d", 1_234_566, "u1234567"},
		{"cust-%d-x", 41, "cust-42-x"},
		{"%08d", 0, "00000001"},
		{"id%x", 254, "idff"},
		{"%6d", 0, "     1"},
	} {
		cfg, err := Config{UserIDFormat: tc.format, Users: 1_300_000}.withDefaults()
		if err != nil {
			t.Fatalf("format %q: %v", tc.format, err)
		}
		ids, err := newUserIDs(cfg.UserIDFormat, int(tc.n)+1)
		if err != nil {
			t.Fatalf("format %q: %v", tc.format, err)
		}
		if got := string(ids.appendID(nil, tc.n)); got != tc.want {
			t.Errorf("format %q: id of index %d = %q, want %q", tc.format, tc.n, got, tc.want)
		}
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Users: -1},
		{Users: MaxUsers + 1},
		{Days: -5},
		{UserIDFormat: "u%s"},
		{UserIDFormat: "u,%d"},
		{UserIDFormat: "%d%d"},
		{UserIDFormat: "plain"},
		{Overlap: Overlap{One: -1, Two: 1}},
		{Overlap: Overlap{One: 2}},
		{Churn: 1.5},
		{Early: math.NaN()},
		{ChurnMeanDays: -3},
		{OrdersPerYear: math.Inf(1)},
		{RateShape: -1},
		{Start: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := Describe(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Describe(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestGenerateStopsOnCallbackError(t *testing.T) {
	stop := errors.New("enough")
	n := 0
	_, err := Generate(Config{Users: 2_000}, func(string, Row) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("Generate = %v after %d rows, want the callback's error after 10", err, n)
	}
}

func TestWriteFilesError(t *testing.T) {
	dir := t.TempDir()
	// A directory where a file should go makes that site fail.
	if err := os.Mkdir(filepath.Join(dir, "marketplace.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteFiles(Config{Users: 2_000}, dir); err == nil {
		t.Fatal("WriteFiles into a blocked path succeeded")
	}
	for _, s := range []string{"brand-store.csv", "mini-program.csv"} {
		if _, err := os.Stat(filepath.Join(dir, s)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after a failure (stat: %v)", s, err)
		}
	}
}

func TestStartAndDays(t *testing.T) {
	start := time.Date(2024, 2, 28, 15, 30, 0, 0, time.UTC) // truncated to the day
	var lo, hi int64 = math.MaxInt64, 0
	_, err := Generate(Config{Users: 3_000, Days: 3, Start: start}, func(_ string, r Row) error {
		lo, hi = min(lo, r.Unix), max(hi, r.Unix)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2024, 2, 28, 0, 0, 0, 0, time.UTC).Unix()
	if lo < day || hi >= day+3*86400 {
		t.Errorf("rows from %s to %s, want within 2024-02-28 .. 2024-03-01", time.Unix(lo, 0).UTC(), time.Unix(hi, 0).UTC())
	}
}

func TestAppendTimestamp(t *testing.T) {
	for _, u := range []int64{0, 951782400, 951868799, 1709577600 + 66161, 4102444799, 253402300799} {
		want := time.Unix(u, 0).UTC().Format("2006-01-02T15:04:05Z")
		if got := string(appendTimestamp(nil, u)); got != want {
			t.Errorf("appendTimestamp(%d) = %s, want %s", u, got, want)
		}
	}
}
