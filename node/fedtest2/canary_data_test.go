package fedtest2

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/jobs"
)

// canaryAsOf is the as-of instant every canary site analyses its file at
// (sites of a federation agree on it; an explicit one also keeps each site's
// latest purchase time out of the model's as-of notes).
var canaryAsOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

// canaryOrder is one order line of the canary data.
type canaryOrder struct {
	id    string
	unix  int64 // seconds
	cents int64
}

// canaryUser is one user at one site: its id as written in the file and its
// orders there.
type canaryUser struct {
	id      string
	numeric bool // id is a decimal integer (else 16 hex characters)
	orders  []canaryOrder
	total   int64 // net spend at this site, cents
}

// canarySite is one site's file and users.
type canarySite struct {
	channel string
	path    string
	users   []canaryUser
}

// canaryData generates three sites' transaction files (standard schema,
// user_id,order_id,ts,amount,channel) under dir, with distinctive values:
//
//   - site 0's user ids are 16 random hex characters starting "cnry"
//     (cnry5f3a9c0e71d2), site 1's random 15-16 digit integers
//     (7351904628173552), site 2 has both kinds; about a fifth of the users
//     of sites 1 and 2 are also customers of another site (the same id);
//   - order ids are "o" and 15 random hex characters;
//   - every order amount is distinct in the whole data set, between
//     10,000,000.00 and 60,000,000.00 (log-uniform; a currency of large
//     nominal values, as the dong or the rupiah), with non-zero cents and a
//     non-zero last digit, and is no edge of the monetary histogram bins
//     (public constants that appear in the log as cut points); every user's
//     total at a site is distinct too and differs from every order amount
//     unless the user has a single order. Amounts of 10 or 11 digits in
//     cents make their binary forms as distinctive as their text: see
//     TestCanary for why smaller ones are not;
//   - order times are random seconds in 2022-01-01 .. 2024-06-30 (before
//     canaryAsOf), each order at a distinct second.
//
// users is the number of users per site (±20%).
func canaryData(t *testing.T, r *rand.Rand, dir string, users int) []*canarySite {
	t.Helper()
	edges := map[int64]bool{}
	for _, e := range jobs.MonetaryBins.Edges {
		edges[e] = true
	}
	used := map[string]bool{} // ids, order ids
	usedCents := map[int64]bool{}
	usedUnix := map[int64]bool{}
	hexID := func(prefix string, n int) string {
		for {
			s := prefix
			for len(s) < n {
				s += strconv.FormatUint(r.Uint64N(16), 16)
			}
			if !used[s] {
				used[s] = true
				return s
			}
		}
	}
	numID := func() string {
		for {
			// 15 or 16 digits, no leading 0; digits are random.
			s := strconv.FormatInt(1e14+r.Int64N(9e15-1e14), 10)
			if !used[s] {
				used[s] = true
				return s
			}
		}
	}
	distinct := func(c int64) bool {
		return c%10 != 0 && c%100 != 0 && !edges[c] && !usedCents[c]
	}
	amount := func() int64 {
		for {
			c := int64(math.Exp(math.Log(1e9) + r.Float64()*math.Log(6)))
			if distinct(c) {
				usedCents[c] = true
				return c
			}
		}
	}
	lo, hi := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC).Unix()
	when := func() int64 {
		for {
			u := lo + r.Int64N(hi-lo)
			if !usedUnix[u] {
				usedUnix[u] = true
				return u
			}
		}
	}
	newUser := func(numeric bool) canaryUser {
		for {
			u := canaryUser{numeric: numeric}
			if numeric {
				u.id = numID()
			} else {
				u.id = hexID("cnry", 16)
			}
			// 1..6 orders, heavy-tailed.
			n := 1 + min(5, int(r.ExpFloat64()*1.2))
			for range n {
				u.orders = append(u.orders, canaryOrder{id: hexID("o", 16), unix: when(), cents: amount()})
				u.total += u.orders[len(u.orders)-1].cents
			}
			if n == 1 || distinct(u.total) {
				usedCents[u.total] = true
				return u
			}
			// A colliding total: drop the user (its ids and amounts stay
			// reserved) and draw another.
		}
	}
	channels := []string{"store", "marketplace", "mini-program"}
	sites := make([]*canarySite, 3)
	for s := range sites {
		sites[s] = &canarySite{channel: channels[s], path: filepath.Join(dir, fmt.Sprintf("site-%d.csv", s))}
	}
	n := func() int { return users*4/5 + r.IntN(users*2/5+1) }
	for range n() {
		sites[0].users = append(sites[0].users, newUser(false))
	}
	for range n() {
		sites[1].users = append(sites[1].users, newUser(true))
	}
	for range n() {
		sites[2].users = append(sites[2].users, newUser(r.IntN(2) == 0))
	}
	// Shared customers: the same id at a second site, with new orders.
	for s := 1; s < 3; s++ {
		for i := range sites[s].users {
			if r.IntN(5) != 0 {
				continue
			}
			from := sites[(s+1+r.IntN(2))%3]
			if len(from.users) == 0 {
				continue
			}
			sites[s].users[i].id = from.users[r.IntN(len(from.users))].id
			sites[s].users[i].numeric = isDecimal(sites[s].users[i].id)
		}
		// An id shared twice at one site would merge two users: keep the
		// first.
		seen := map[string]bool{}
		sites[s].users = slices.DeleteFunc(sites[s].users, func(u canaryUser) bool {
			dup := seen[u.id]
			seen[u.id] = true
			return dup
		})
	}
	for _, site := range sites {
		writeCanaryFile(t, r, site)
	}
	return sites
}

func isDecimal(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// writeCanaryFile writes a site's orders in random order.
func writeCanaryFile(t *testing.T, r *rand.Rand, site *canarySite) {
	t.Helper()
	type line struct {
		user string
		o    canaryOrder
	}
	var lines []line
	for _, u := range site.users {
		for _, o := range u.orders {
			lines = append(lines, line{u.id, o})
		}
	}
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	f, err := os.Create(site.path)
	must(t, err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "user_id,order_id,ts,amount,channel")
	for _, l := range lines {
		fmt.Fprintf(w, "%s,%s,%s,%s,%s\n", l.user, l.o.id, time.Unix(l.o.unix, 0).UTC().Format(time.RFC3339),
			centsText(l.o.cents), site.channel)
	}
	must(t, w.Flush())
	must(t, f.Close())
}

// centsText formats cents as currency units with two decimals.
func centsText(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}
