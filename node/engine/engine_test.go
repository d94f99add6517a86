package engine

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-fed/strata/node/analytics/lifecycle"
	"github.com/strata-fed/strata/node/ingest"
)

const (
	onlineRetailData = "../../../shared/data/online_retail.csv.gz"
	examples         = "../../deploy/examples/"
)

func run(t *testing.T, src *ingest.Source, cfg Config) (*Result, Summary, string) {
	t.Helper()
	out := t.TempDir()
	res, sum, err := Run(context.Background(), src, cfg, RunOptions{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	return res, sum, out
}

func loadExample(t *testing.T, name string) *ingest.Source {
	t.Helper()
	src, err := ingest.LoadSource(examples + name)
	if err != nil {
		t.Fatalf("%v (the shared data sets must be present in ../shared/data)", err)
	}
	return src
}

// TestEdgeFixture matches the peers' hand-checked expectation byte for byte.
func TestEdgeFixture(t *testing.T) {
	want, err := os.ReadFile("testdata/edge.expected.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _, out := run(t, ingest.DefaultSource("testdata/edge.csv"), Config{Only: OnlyRFM})
	got, _ := os.ReadFile(filepath.Join(out, UsersFile))
	if !bytes.Equal(got, want) {
		t.Errorf("users.csv =\n%s\nwant\n%s", got, want)
	}
	// The full analysis keeps the same first seven columns.
	_, sum, out := run(t, ingest.DefaultSource("testdata/edge.csv"), Config{})
	full := readCSV(t, filepath.Join(out, UsersFile))
	exp := readCSV(t, "testdata/edge.expected.csv")
	for i := range exp {
		if !slices.Equal(full[i][:7], exp[i]) {
			t.Errorf("full row %d = %q, want prefix %q", i, full[i], exp[i])
		}
	}
	if len(full[0]) != 7+len(FullColumns) {
		t.Errorf("full header = %q", full[0])
	}
	// channels in first-seen order; user 3 bought through "web" and "web, mobile"
	if len(sum.Channels) != 6 || sum.Channels[0] != (ChannelCount{"web", 4}) || sum.Channels[4] != (ChannelCount{"web, mobile", 1}) {
		t.Errorf("channels = %+v", sum.Channels)
	}
	if sum.Users != 7 || sum.Orders != 11 || sum.RevenueCents != 100023380 || sum.Segments == nil || sum.Clusters == nil {
		t.Errorf("summary = %+v", sum)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestOnlineRetail checks the shipped source against the data set's
// documented counts and an independent re-implementation of the cleaning and
// the peers' definitions; with STRATA_PEER_TESTS=1 also against pandas.
func TestOnlineRetail(t *testing.T) {
	src := loadExample(t, "online_retail.yaml")
	res, sum, out := run(t, src, Config{Only: OnlyRFM})
	want := ingest.Accounting{Read: 541909, Accepted: 392692, NoUser: 135080, Duplicates: 5225, Cancelled: 8872,
		Filtered: 40, FilteredBy: map[string]int64{ingest.ReasonNonPositivePrice: 40}, HeaderLines: 1, Bytes: 47100511}
	if fmt.Sprint(sum.Rows) != fmt.Sprint(want) {
		t.Errorf("rows = %+v\nwant %+v", sum.Rows, want)
	}
	if res.Users() != 4338 || res.Orders != 18532 {
		t.Errorf("users %d, orders %d; want 4338, 18532", res.Users(), res.Orders)
	}
	got := readCSV(t, filepath.Join(out, UsersFile))

	t.Run("independent Go check", func(t *testing.T) {
		exp, acc := onlineRetailReference(t)
		if acc != [5]int64{541909, 135080, 5225, 8872, 40} {
			t.Errorf("reference counts %v", acc)
		}
		if len(exp) != len(got) {
			t.Fatalf("%d rows, reference %d", len(got), len(exp))
		}
		for i := range exp {
			if !slices.Equal(got[i], exp[i]) {
				t.Fatalf("row %d = %q, reference %q", i, got[i], exp[i])
			}
		}
	})

	// Without duplicate removal the common clean subset of the data set's
	// README: 397,884 rows, 4,338 customers, 18,532 invoices.
	src2 := loadExample(t, "online_retail.yaml")
	src2.Filters.DropDuplicates = false
	res2, sum2, _ := run(t, src2, Config{Only: OnlyRFM})
	if sum2.Rows.Accepted != 397884 || res2.Users() != 4338 || res2.Orders != 18532 || sum2.Rows.Cancelled != 8905 {
		t.Errorf("without dedupe: rows %+v, users %d, orders %d", sum2.Rows, res2.Users(), res2.Orders)
	}

	if os.Getenv("STRATA_PEER_TESTS") != "1" {
		return
	}
	t.Run("pandas peer", func(t *testing.T) {
		py := "/usr/bin/python3"
		if out, err := exec.Command(py, "-c", "import pandas, numpy").CombinedOutput(); err != nil {
			t.Fatalf("STRATA_PEER_TESTS=1 needs %s with pandas and numpy (apt-get install python3-pandas): %v: %s", py, err, out)
		}
		dir := t.TempDir()
		peerCSV, counts := filepath.Join(dir, "peer.csv"), filepath.Join(dir, "counts.json")
		cmd := exec.Command(py, "testdata/online_retail_peer.py", onlineRetailData, peerCSV, counts)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pandas peer: %v: %s", err, b)
		}
		exp := readCSV(t, peerCSV)
		if len(exp) != len(got) {
			t.Fatalf("%d rows, pandas %d", len(got), len(exp))
		}
		for i := range exp {
			if !slices.Equal(got[i], exp[i]) {
				t.Fatalf("row %d = %q, pandas %q", i, got[i], exp[i])
			}
		}
		var c map[string]int64
		b, _ := os.ReadFile(counts)
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		a := sum.Rows
		if c["read"] != a.Read || c["no_user"] != a.NoUser || c["duplicates"] != a.Duplicates ||
			c["cancelled"] != a.Cancelled || c["filtered"] != a.Filtered || c["accepted"] != a.Accepted ||
			c["users"] != int64(res.Users()) || c["orders"] != res.Orders {
			t.Errorf("pandas counts %v, ours %+v (users %d, orders %d)", c, a, res.Users(), res.Orders)
		}
	})
}

// onlineRetailReference re-implements the example's cleaning and the peers'
// RFM definitions with encoding/csv, big.Rat and a plain sort, sharing no code
// with ingest, engine or score. It returns the expected users.csv rows and
// the counts read, no user, duplicates, cancelled, filtered.
func onlineRetailReference(t *testing.T) ([][]string, [5]int64) {
	t.Helper()
	f, err := os.Open(onlineRetailData)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(zr)
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	type user struct {
		last   time.Time
		orders map[string]bool
		cents  int64
	}
	users := map[int64]*user{}
	seen := map[string]bool{}
	var counts [5]int64
	var maxTS time.Time
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		counts[0]++
		if rec[6] == "" {
			counts[1]++
			continue
		}
		key := strings.Join(rec, "\x00")
		if seen[key] {
			counts[2]++
			continue
		}
		seen[key] = true
		if strings.HasPrefix(rec[0], "C") {
			counts[3]++
			continue
		}
		q, _ := new(big.Rat).SetString(rec[3])
		p, _ := new(big.Rat).SetString(rec[5])
		if q.Sign() <= 0 || p.Sign() <= 0 {
			counts[4]++
			continue
		}
		amt := new(big.Rat).Mul(q, p)
		amt.Mul(amt, big.NewRat(100, 1))
		amt.Add(amt, big.NewRat(1, 2)) // positive: half away from zero = floor(x + 1/2)
		cents := new(big.Int).Quo(amt.Num(), amt.Denom()).Int64()
		ts, err := time.Parse("2006-01-02 15:04:05", rec[4])
		if err != nil {
			t.Fatal(err)
		}
		id, _ := strconv.ParseInt(rec[6], 10, 64)
		u := users[id]
		if u == nil {
			u = &user{orders: map[string]bool{}}
			users[id] = u
		}
		if ts.After(u.last) {
			u.last = ts
		}
		if ts.After(maxTS) {
			maxTS = ts
		}
		u.orders[rec[0]] = true
		u.cents += cents
	}
	asof := maxTS.Add(24 * time.Hour)
	ids := make([]int64, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	n := len(ids)
	rec := make([]int64, n)
	freq := make([]int64, n)
	mon := make([]int64, n)
	for i, id := range ids {
		u := users[id]
		rec[i] = int64(math.Floor(asof.Sub(u.last).Hours() / 24))
		freq[i] = int64(len(u.orders))
		mon[i] = u.cents
	}
	ntile := func(key []int64, desc bool) []int {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			if key[a] == key[b] {
				return 0
			}
			if (key[a] < key[b]) != desc {
				return -1
			}
			return 1
		})
		out := make([]int, n)
		// SQL ntile: the first n%5 buckets have one more member.
		pos := 0
		for b := 1; b <= 5; b++ {
			size := n / 5
			if b <= n%5 {
				size++
			}
			for range size {
				out[idx[pos]] = b
				pos++
			}
		}
		return out
	}
	rs, fs, ms := ntile(rec, true), ntile(freq, false), ntile(mon, false)
	rows := [][]string{{"user_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"}}
	for i, id := range ids {
		rows = append(rows, []string{strconv.FormatInt(id, 10), strconv.FormatInt(rec[i], 10), strconv.FormatInt(freq[i], 10),
			fmt.Sprintf("%d.%02d", mon[i]/100, mon[i]%100), strconv.Itoa(rs[i]), strconv.Itoa(fs[i]), strconv.Itoa(ms[i])})
	}
	return rows, counts
}

// TestCDNOWSample reproduces the published BG/NBD and Gamma-Gamma fits on the
// CDNOW 1/10 sample with the shipped source (same-day merge, weeks,
// calibration to 1997-09-30).
func TestCDNOWSample(t *testing.T) {
	src := loadExample(t, "cdnow_sample.yaml")
	cal, err := ingest.ParseTime(src, src.Analysis.CalibrationEnd)
	if err != nil {
		t.Fatal(err)
	}
	res, sum, _ := run(t, src, Config{CalibrationEnd: cal})
	if sum.Rows.Read != 6919 || sum.Rows.Accepted != 6919 || res.Users() != 2357 || res.Orders != 6696 {
		t.Fatalf("rows %+v, users %d, orders %d; want 6919 rows, 2357 users, 6696 orders", sum.Rows, res.Users(), res.Orders)
	}
	var sumX, repeaters int64
	for i := range res.Users() {
		c := res.acc.cal(res.order[i])
		x := int64(c.orders) - 1
		sumX += x
		if x > 0 {
			repeaters++
		}
	}
	if sumX != 2457 || repeaters != 946 || res.CLVUsers != 2357 || res.GGUsers != 946 {
		t.Errorf("Σx %d, repeaters %d, fitted %d/%d; want 2457, 946, 2357/946", sumX, repeaters, res.CLVUsers, res.GGUsers)
	}
	round := func(v float64, digits int) float64 {
		p := math.Pow(10, float64(digits))
		return math.Round(v*p) / p
	}
	bg, gg := res.BGNBD, res.GammaGamma
	got := [...]float64{round(bg.R, 3), round(bg.Alpha, 3), round(bg.A, 3), round(bg.B, 3), round(bg.LogLik, 1),
		round(gg.P, 2), round(gg.Q, 2), round(gg.Gamma, 2)}
	want := [...]float64{0.243, 4.414, 0.793, 2.426, -9582.4, 6.25, 3.74, 15.44}
	if got != want {
		t.Errorf("fit = %v, published %v (%s)", got, want, res.CLVError)
	}
	if sum.CLV == nil || sum.CLV.BGNBD == nil || sum.CLV.GammaGamma == nil {
		t.Errorf("summary CLV = %+v", sum.CLV)
	}
}

// TestEarlyAsOf: purchases after an explicit as-of are outside the CLV
// calibration window, so the fit still works (t_x never exceeds T).
func TestEarlyAsOf(t *testing.T) {
	src := loadExample(t, "cdnow_sample.yaml")
	asof := time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC)
	res, _, _ := run(t, src, Config{AsOf: asof})
	if res.CLVError != "" || res.CLVUsers != 2357 || !res.CalibrationEnd.Equal(asof) {
		t.Fatalf("CLV error %q, users %d, calibration end %v", res.CLVError, res.CLVUsers, res.CalibrationEnd)
	}
	for i, r := range res.Recency {
		if st := res.Stage[i]; r < 0 && st != "" {
			t.Fatalf("user %s: recency %d (after the as-of) but stage %q", res.UserID(i), r, st)
		}
	}
}

func TestCDNOWMaster(t *testing.T) {
	res, sum, out := run(t, loadExample(t, "cdnow_master.yaml"), Config{Only: OnlyRFM})
	if sum.Rows.Read != 69659 || res.Users() != 23570 || res.Orders != 67591 || res.RevenueCents != 250031563 {
		t.Errorf("rows %+v, users %d, orders %d, revenue %d", sum.Rows, res.Users(), res.Orders, res.RevenueCents)
	}
	rows := readCSV(t, filepath.Join(out, UsersFile))
	if rows[1][0] != "00001" || rows[len(rows)-1][0] != "23570" {
		t.Errorf("zero-padded ids not kept in numeric order: first %q last %q", rows[1][0], rows[len(rows)-1][0])
	}
}

// TestAccumulator covers the per-user state on unsorted input, repeated and
// interleaved orders, text and wide order keys, and id ordering.
func TestAccumulator(t *testing.T) {
	acc := NewAccumulator(0, false)
	add := func(user string, order string, ts int64, cents int64) {
		r := &ingest.Row{User: []byte(user), Order: []byte(order), Unix: ts, Cents: cents}
		if v, err := strconv.ParseUint(user, 10, 63); err == nil && user == strconv.FormatUint(v, 10) {
			r.UserNum, r.UserIsNum = v, true
		}
		if v, err := strconv.ParseUint(order, 10, 63); err == nil {
			r.OrderKey, r.OrderKind = v, ingest.OrderNumeric
		} else {
			r.OrderKind = ingest.OrderText
		}
		if err := acc.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	const day = 86400
	add("10", "1", 5*day, 100)
	add("10", "2", 9*day, 100)
	add("10", "1", 5*day, 50)            // same order again, not adjacent
	add("10", "1099511627776", 1*day, 1) // order key >= 2^40: wide set
	add("10", "1099511627776", 1*day, 1)
	add("10", "A-1", 7*day, 10)
	add("10", "A-1", 7*day, 10)
	add("2", "1", 3*day, -5) // same order id, other user: a different order
	add("x9", "1", 3*day, 5)
	res, err := Analyze(context.Background(), acc, Config{Only: OnlyRFM, AsOf: time.Unix(10*day, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range res.Users() {
		ids = append(ids, res.UserID(i))
	}
	if !slices.Equal(ids, []string{"10", "2", "x9"}) { // not all numeric: bytewise order
		t.Errorf("ids = %q", ids)
	}
	if res.Frequency[0] != 4 || res.Monetary[0] != 272 || res.Recency[0] != 1 || res.Tenure[0] != 9 {
		t.Errorf("user 10: F %d M %d R %d tenure %d", res.Frequency[0], res.Monetary[0], res.Recency[0], res.Tenure[0])
	}
	u := acc.user(res.order[0])
	if u.prev != 7*day || u.first != 1*day || u.firstCents != 2 {
		t.Errorf("user 10 state %+v", *u)
	}
	if res.Frequency[1] != 1 || res.Monetary[1] != -5 || res.Orders != 6 {
		t.Errorf("user 2: F %d M %d; orders %d", res.Frequency[1], res.Monetary[1], res.Orders)
	}
	if _, err := Analyze(context.Background(), NewAccumulator(0, false), Config{}); !errors.Is(err, ErrNoUsers) {
		t.Errorf("empty: %v", err)
	}
	if _, err := Analyze(context.Background(), acc, Config{Only: "everything"}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad config: %v", err)
	}
}

func TestNumericIDOrder(t *testing.T) {
	for _, ids := range [][]uint64{{5, 1 << 40, 3, 1 << 30}, {7, 3, 9}} { // sparse (sort) and dense (placement)
		acc := NewAccumulator(0, false)
		for i, id := range ids {
			acc.Add(&ingest.Row{User: []byte(strconv.FormatUint(id, 10)), UserNum: id, UserIsNum: true, OrderKey: uint64(i), Unix: int64(i)})
		}
		acc.Finish()
		order := acc.sortedUsers()
		var got []uint64
		for _, u := range order {
			got = append(got, acc.key(u))
		}
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(got, want) {
			t.Errorf("order %v, want %v", got, want)
		}
	}
}

func TestAppendCents(t *testing.T) {
	for v, want := range map[int64]string{0: "0.00", 5: "0.05", -5: "-0.05", 123456: "1234.56", -100: "-1.00",
		math.MinInt64: "-92233720368547758.08"} {
		if got := string(appendCents(nil, v)); got != want {
			t.Errorf("appendCents(%d) = %s, want %s", v, got, want)
		}
	}
}

// genCSV writes rows in the peers' standard schema.
func genCSV(rows, users int) []byte {
	var b bytes.Buffer
	b.WriteString("user_id,order_id,ts,amount,channel\n")
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	x := uint64(1)
	for i := range rows {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		u := x%uint64(users) + 1
		ts := time.Unix(base+int64(i)*60, 0).UTC().Format("2006-01-02T15:04:05Z")
		fmt.Fprintf(&b, "%d,%d,%s,%d.%02d,web\n", u, i/2, ts, x%500, x%100)
	}
	return b.Bytes()
}

// BenchmarkReadAggregate is the hot path: parse, aggregate per user and
// score, on a generated 500k-row CSV (22 MB) with 50k users.
func BenchmarkReadAggregate(b *testing.B) {
	data := genCSV(500000, 50000)
	p := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	src := ingest.DefaultSource(p)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		acc := NewAccumulator(0, false)
		if _, err := src.Read(context.Background(), acc.Add, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := Analyze(context.Background(), acc, Config{Only: OnlyRFM}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOrderWithTwoTimestamps: an order whose lines carry different times
// (as 43 Online Retail invoices do) is one purchase, so a one-order user
// has no previous purchase and gets a proper lifecycle stage.
func TestOrderWithTwoTimestamps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tx.csv")
	data := "user_id,order_id,ts,amount\n" +
		"1,10,2024-01-01T10:00:00Z,5.00\n" +
		"1,10,2024-01-01T10:01:00Z,6.00\n" +
		"2,20,2024-03-01T10:00:00Z,7.00\n" +
		"2,21,2024-06-01T10:00:00Z,8.00\n" +
		"3,30,2024-06-01T12:00:00Z,9.00\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	res, _, _ := run(t, ingest.DefaultSource(path), Config{})
	for i, st := range res.Stage {
		if st == lifecycle.Unknown {
			t.Errorf("user %d: lifecycle stage unknown", i)
		}
	}
	if res.Stage[0] != lifecycle.AtRisk {
		t.Errorf("user 1 (one order, 153 days before the as-of date) stage = %q, want %q", res.Stage[0], lifecycle.AtRisk)
	}
}

// TestScanK reports inertia and silhouette per k, and a suggested k.
func TestScanK(t *testing.T) {
	src := loadExample(t, "online_retail.yaml")
	res, sum, _ := run(t, src, Config{ScanK: []int{2, 3, 4, 5, 6}})
	if len(res.KScan) != 5 || len(sum.Clusters.Scan) != 5 {
		t.Fatalf("scan has %d/%d entries, want 5", len(res.KScan), len(sum.Clusters.Scan))
	}
	for i, e := range sum.Clusters.Scan {
		if e.K != i+2 {
			t.Errorf("scan[%d].k = %d, want %d", i, e.K, i+2)
		}
		if e.Silhouette == nil || *e.Silhouette < -1 || *e.Silhouette > 1 {
			t.Errorf("k=%d: silhouette %v, want a value in [-1, 1]", e.K, e.Silhouette)
		}
		if i > 0 && e.Inertia > sum.Clusters.Scan[i-1].Inertia*1.001 {
			t.Errorf("inertia grows from k=%d to k=%d: %g > %g", e.K-1, e.K, e.Inertia, sum.Clusters.Scan[i-1].Inertia)
		}
	}
	if k := sum.Clusters.SuggestedK; k < 2 || k > 6 {
		t.Errorf("suggested k = %d, want one of the scanned", k)
	}
}
