package score

import (
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type edgeUser struct {
	id                      int64
	recency, freq, monetary int64
	wantR, wantF, wantM     uint8
}

// loadEdge reads the peers' hand-checked expected file (copied from
// shared/peers/testdata), sorted by user id as the file is.
func loadEdge(t *testing.T) []edgeUser {
	t.Helper()
	f, err := os.Open("testdata/edge.expected.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "user_id,recency_days,frequency,monetary,r_score,f_score,m_score" {
		t.Fatalf("header = %q", got)
	}
	var users []edgeUser
	for _, row := range rows[1:] {
		num := func(i int) int64 {
			v, err := strconv.ParseInt(row[i], 10, 64)
			if err != nil {
				t.Fatalf("row %v column %d: %v", row, i, err)
			}
			return v
		}
		whole, frac, ok := strings.Cut(row[3], ".")
		if !ok || len(frac) != 2 {
			t.Fatalf("monetary %q: want 2 decimals", row[3])
		}
		cents, err := strconv.ParseInt(whole+frac, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, edgeUser{
			id: num(0), recency: num(1), freq: num(2), monetary: cents,
			wantR: uint8(num(4)), wantF: uint8(num(5)), wantM: uint8(num(6)),
		})
	}
	if !slices.IsSortedFunc(users, func(a, b edgeUser) int { return int(a.id - b.id) }) {
		t.Fatal("expected file not sorted by user id")
	}
	return users
}

func TestNTileEdgeFixture(t *testing.T) {
	users := loadEdge(t)
	if len(users) != 7 {
		t.Fatalf("%d users, want 7 (n %% 5 != 0 is the point of the fixture)", len(users))
	}
	var rec, freq, mon []int64
	for _, u := range users {
		rec = append(rec, u.recency)
		freq = append(freq, u.freq)
		mon = append(mon, u.monetary)
	}
	r, f, m := NTile(rec, true, 5), NTile(freq, false, 5), NTile(mon, false, 5)
	for i, u := range users {
		if r[i] != u.wantR || f[i] != u.wantF || m[i] != u.wantM {
			t.Errorf("user %d: scores R%d F%d M%d, want R%d F%d M%d",
				u.id, r[i], f[i], m[i], u.wantR, u.wantF, u.wantM)
		}
	}
}

// refNTile is an independent, obviously correct ntile: a stable sort of
// indices, then buckets filled one by one with their sizes.
func refNTile(keys []int64, desc bool, buckets int) []uint8 {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if desc {
			return keys[idx[a]] > keys[idx[b]]
		}
		return keys[idx[a]] < keys[idx[b]]
	})
	out := make([]uint8, len(keys))
	pos := 0
	for b := 0; b < buckets; b++ {
		size := len(keys) / buckets
		if b < len(keys)%buckets {
			size++
		}
		for range size {
			out[idx[pos]] = uint8(b + 1)
			pos++
		}
	}
	return out
}

func TestNTileMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() int64{
		"few distinct": func() int64 { return rng.Int64N(4) },
		"freq-like":    func() int64 { return freqLike(rng) },
		"wide":         func() int64 { return rng.Int64() - math.MaxInt64/2 },
		"negative":     func() int64 { return -rng.Int64N(1000) },
		"full range": func() int64 { // forces the comparison-sort fallback
			switch rng.IntN(3) {
			case 0:
				return math.MinInt64
			case 1:
				return math.MaxInt64
			}
			return rng.Int64N(10) - 5
		},
	}
	sizes := []int{0, 1, 2, 3, 4, 5, 6, 7, 11, 99, 1000, 2003}
	for name, gen := range gens {
		for _, n := range sizes {
			keys := make([]int64, n)
			for i := range keys {
				keys[i] = gen()
			}
			for _, buckets := range []int{1, 2, 3, 5, 10, 255} {
				for _, desc := range []bool{false, true} {
					got, want := NTile(keys, desc, buckets), refNTile(keys, desc, buckets)
					if !slices.Equal(got, want) {
						t.Fatalf("%s n=%d buckets=%d desc=%v: NTile = %v, want %v",
							name, n, buckets, desc, head(got), head(want))
					}
				}
			}
		}
	}
}

func head(s []uint8) []uint8 { return s[:min(len(s), 20)] }

func TestNTileBucketSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]int64, 2003) // 2003 % 5 = 3: sizes 401, 401, 401, 400, 400
	for i := range keys {
		keys[i] = freqLike(rng)
	}
	var count [6]int
	for _, s := range NTile(keys, false, 5) {
		count[s]++
	}
	if want := [6]int{0, 401, 401, 401, 400, 400}; count != want {
		t.Errorf("bucket sizes = %v, want %v", count[1:], want[1:])
	}
}

func TestNTileTiesBreakByIndex(t *testing.T) {
	keys := []int64{7, 7, 7, 7, 7}
	if got, want := NTile(keys, false, 5), []uint8{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("NTile(equal keys, asc) = %v, want %v", got, want)
	}
	if got, want := NTile(keys, true, 5), []uint8{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("NTile(equal keys, desc) = %v, want %v", got, want)
	}
	// desc inverts the key order but not the tie order
	keys = []int64{1, 2, 2, 3}
	if got, want := NTile(keys, true, 4), []uint8{4, 2, 3, 1}; !slices.Equal(got, want) {
		t.Errorf("NTile(%v, desc) = %v, want %v", keys, got, want)
	}
}

func TestNTileBadBuckets(t *testing.T) {
	for _, b := range []int{-1, 0, 256} {
		if got := NTile([]int64{1, 2}, false, b); got != nil {
			t.Errorf("NTile(buckets=%d) = %v, want nil", b, got)
		}
	}
	if got := NTile(nil, false, 5); got == nil || len(got) != 0 {
		t.Errorf("NTile(nil) = %#v, want empty non-nil", got)
	}
	if got := NTile([]int64{5, 1}, false, 5); !slices.Equal(got, []uint8{2, 1}) {
		t.Errorf("NTile(n < buckets) = %v, want [2 1]", got)
	}
}

// freqLike draws an order count shaped like the peers' data: about 40% ones,
// a long tail.
func freqLike(rng *rand.Rand) int64 {
	if rng.Float64() < 0.4 {
		return 1
	}
	return 2 + int64(rng.ExpFloat64()*8)
}

func benchKeys(n int) (recency, frequency, monetary []int64) {
	rng := rand.New(rand.NewPCG(7, 8))
	recency, frequency, monetary = make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range n {
		recency[i] = 1 + rng.Int64N(730)
		frequency[i] = freqLike(rng)
		monetary[i] = int64(math.Exp(3+rng.NormFloat64()*1.2) * 100 * float64(frequency[i]))
	}
	return recency, frequency, monetary
}

func BenchmarkNTile(b *testing.B) {
	const n = 1_000_000
	rec, freq, mon := benchKeys(n)
	cases := []struct {
		name string
		keys []int64
		desc bool
	}{
		{"recency/1M", rec, true},
		{"frequency/1M", freq, false},
		{"monetary/1M", mon, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				NTile(c.keys, c.desc, 5)
			}
		})
	}
	b.Run("reference-stable-sort/frequency/1M", func(b *testing.B) {
		for b.Loop() {
			refNTile(freq, false, 5)
		}
	})
}
