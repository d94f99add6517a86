package fedtest2

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-fed/strata/federated/jobs"
	"github.com/strata-fed/strata/federated/securesum"
	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/daemon"
	"github.com/strata-fed/strata/node/engine"
	"github.com/strata-fed/strata/node/fedjobs"
	"github.com/strata-fed/strata/node/ingest"
)

// canaryLocal is one site's local analysis: its SiteData and, in the same
// order, its user ids (what stays on the site).
type canaryLocal struct {
	data *segmodel.SiteData
	ids  []string
}

// TestCanary is the canary test of issue #5: a whole federated
// segmentation over three real daemons, on data with distinctive user ids
// and amounts, records every application-layer byte each node sends, and
// none of the ids, and no per-user amount, appears in any of it.
//
// # The run
//
// Three in-process daemons (real QUIC with mutual TLS, raft with raft-wal,
// a 2-of-3 lattigo threshold key on the insecure fast parameter set), each
// with a data: section naming its site's file: the daemon analyses it at
// start-up and serves the federated jobs from it (fedjobs.Provider). A
// coordinator drives through the admin API, as `strata segment` does
// (fedjobs.Segment): budget, then the whole segmentation (thresholds,
// means, k-means, CLV, segment × channel) with DP on (ε = 1), the model
// committed, every site labelling its users with it and writing its
// audiences; then the same with DP off (the federation's test switch:
// exact releases), with the binned CLV fit, followed by the first rounds of
// the exact CLV fit (a few hundred rounds in full: too long here). The
// coordinator also reads what an operator would from every node: the
// latest model, the report, the site's activation. The data is random
// (seed logged).
//
// # What is recorded
//
// Every node's transport.Config.SendTap (daemon.WithSendTap): every byte
// written to every stream the node opened or accepted — raft (raft's own
// RPCs: log entries, snapshots, heartbeats), control (joins, pings, round
// messages) and bulk (key shares, ciphertexts, aggregates, decryption
// shares), the Hello preambles included — and every connection-close reason,
// per peer and kind, before QUIC encrypts it. Also the admin API's HTTP
// bodies both ways between the coordinator and each node (the coordinator
// sees only released results, and it may run at another site).
//
// # What is searched for
//
// The scanner (canaryNeedles) looks for, in every recorded byte:
//
//   - each user id (16 hex characters, or a 15–16 digit number): as text,
//     upper-case, hex of its text, UTF-16LE, base64 (both alphabets, at each
//     alignment inside a longer base64 string), its SHA-256 and MD5 (a
//     hashed id is still linkable); a numeric id also as int64 LE/BE,
//     uvarint and zig-zag varint, float64 LE/BE and text;
//   - each order id, in the same text forms;
//   - each order amount and each user's total at a site (amounts): in cents
//     and in currency units, as decimal text (whole numbers only, with or
//     without trailing zeros), int64 LE/BE, varints, float64 LE/BE and
//     float text;
//   - each order time: Unix seconds, milliseconds and nanoseconds (text,
//     int64 LE/BE, varints), RFC 3339 and SQL text, time.Time's binary
//     seconds;
//   - each user's own model outputs and CLV inputs that are distinctive
//     floats (unique among the users to the last byte, not whole numbers,
//     of magnitude 1e-9 or more, with 6+ non-zero bytes of 8 and 10+
//     characters as text): the calibration summary t_x and T, the mean
//     repeat value, the log1p monetary feature, and the labels of each
//     committed model — P(alive), expected purchases, CLV — as float64
//     LE/BE and text.
//
// Every fixed-width binary form above (int64, float64, hashes, time
// seconds; not the varints and the millisecond and nanosecond forms) is
// also searched for as hex text and as base64 at each alignment: the log's
// commands are JSON, whose binary fields are base64.
//
// Not searched for: recency days, frequency and tenure days, and the R, F, M
// scores, segments, stages and clusters. They are small integers or labels
// (0..~1,000 or a few names) that occur everywhere in any binary or text
// encoding (lengths, counts, indexes, histogram bins), so a match would say
// nothing; what protects them is that only aggregates of them are sent,
// which the ids and amounts above, recorded the same way, show.
//
// Why amounts of 10–11 digits in cents (10,000,000.00 and more, a currency
// of large nominal values): the log legitimately carries thousands of
// released integers (exact sums with DP off are split into 21-bit limbs
// whose sums lie around users·2^20, noised balanced-codec sums within
// ±users·2^16). An int64 needle of 6–8 digits would coincide with one of
// them by chance in a few runs out of a hundred; at 10–11 digits the chance
// is below one in ten thousand. Text matches are as exact as binary ones
// because decimal text only matches as a whole number. Binary needles are
// at least 6 bytes long and are anchored on their most distinctive bytes;
// random data (ciphertexts, keys) matches none of them (TestCanaryScanner).
//
// # Positive controls
//
// The test must be able to fail. TestCanaryScanner shows the scanner finds
// every form of a planted value and nothing in random bytes. Here, after the
// clean scan, the coordinator runs one more secure sum that does leak: an
// operator statistic named after a real user id, whose values at one site
// are a real user's total and a real numeric user id (DP off, so released
// exactly into the log). The scanner must find all three in the leader's
// raft traffic to the other nodes. The test also checks that every node's
// tap recorded raft, control and bulk traffic (the tap is wired), and that
// each site's own labels contain its users (the needles are the real ids).
//
// # What it does not cover
//
//   - Bytes are scanned before QUIC encryption: this is about what the
//     application sends to peers, not about the wire (TLS 1.3 and the QUIC
//     packet protection are the transport's job, and are tested there). The
//     TLS handshake (certificates: site ids, not user data) and QUIC's own
//     frames are not recorded.
//   - Released aggregates are in the log by design: thresholds, means,
//     centroids, CLV parameters, segment × channel sums, noised with DP on
//     and exact with DP off (the coordinator decodes them). An exact
//     release that concerns a single user — with DP off, a segment ×
//     channel cell of one user releases that user's total, in the codec's
//     21-bit limbs — is not a per-user record and is not what the scanner
//     looks for; DP (on unless the federation's test switch is set) is what
//     bounds such disclosure, and the run logs its smallest non-empty cell.
//     The canary shows that no per-user record leaves a site, not that
//     aggregates reveal nothing.
//   - A leak in an encoding not listed above (compressed, encrypted under a
//     key the peer holds, arithmetic on the value) would not be found; the
//     ciphertexts sent are under the federation's threshold key, which no
//     single peer can decrypt.
//   - Local outputs (labels.csv, audiences, the local report) and logs are
//     not traffic and are not scanned; they are meant to hold the site's
//     own ids.
func TestCanary(t *testing.T) {
	r := seedRand(t)
	users := 250
	if testing.Short() {
		users = 120
	}
	start := time.Now()
	sites := canaryData(t, r, t.TempDir(), users)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Each site's per-user values, computed as its daemon does for its
	// data: section, for the needles.
	local := make([]canaryLocal, len(sites))
	for i, s := range sites {
		res, _, err := engine.Run(ctx, ingest.DefaultSource(s.path), engine.Config{Only: engine.OnlyRFM, AsOf: canaryAsOf},
			engine.RunOptions{OutDir: filepath.Join(t.TempDir(), "analysis")})
		must(t, err)
		d, err := fedjobs.SiteDataFromEngine(res, s.channel)
		must(t, err)
		local[i] = canaryLocal{data: d}
		for j := range res.Users() {
			local[i].ids = append(local[i].ids, res.UserID(j))
		}
		if len(local[i].ids) != len(s.users) || !slices.Contains(d.Columns().InCLV, true) {
			t.Fatalf("site %d: the engine found %d users (the file has %d), CLV histories %v", i, len(local[i].ids), len(s.users), d.Columns().CLV != nil)
		}
	}

	rec := newCanaryRecorder()
	c := writeConfigs(t, len(sites))
	adminSites := map[string]string{}
	for i, nd := range c.nodes {
		nd.opts = append(nd.opts, daemon.WithSendTap(rec.tap(nd.site)))
		adminSites[nd.admin] = nd.site
		f, err := os.OpenFile(nd.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		_, err = fmt.Fprintf(f, "data:\n  file: %s\n  channel: %s\n  as_of: %s\n", sites[i].path, sites[i].channel, canaryAsOf.Format(time.RFC3339))
		must(t, errors.Join(err, f.Close()))
	}
	c.start(c.nodes[0])
	c.waitLeader()
	for _, nd := range c.nodes[1:] {
		c.start(nd)
	}
	c.waitJoined(len(c.nodes))
	must(t, c.leader().d.SetSetting(ctx, "he_params", "TestPN11QP120"))
	keysInit(t, c, 2)
	client := c.client()
	client.HTTP = &http.Client{Transport: &canaryHTTP{rec: rec, sites: adminSites, base: http.DefaultTransport}}
	// Generous: the jobs split the run's ε = 1 in zCDP ρ, while the ledger
	// adds up each round's own (ε, δ) (basic composition): ~ε = 3.
	_, err := client.SetBudget(ctx, fedjobs.DefaultDataset, 20, 1e-3)
	must(t, err)
	if _, err := fedjobs.WaitDataReady(ctx, client.Addrs, nil); err != nil {
		t.Fatalf("sites' data: %v", err)
	}
	tSetup := time.Since(start)

	opts := jobs.Options{
		KMeans:   jobs.KMeansOptions{K: 5},
		Channels: []string{sites[0].channel, sites[1].channel, sites[2].channel},
	}
	var models []*segmodel.Model
	dpOn := opts
	dpOn.Privacy = jobs.Privacy{Epsilon: 1, Delta: 1e-6}
	t0 := time.Now()
	models = append(models, canarySegment(t, ctx, c, client, dpOn, 1))
	tDPOn := time.Since(t0)
	for _, b := range c.leader().d.Budgets() {
		t.Logf("ledger %s after the DP run: spent %+v of %+v", b.Dataset, b.Spent, b.Total)
	}
	must(t, c.leader().d.SetSetting(ctx, "dp_disabled", "true"))
	t0 = time.Now()
	dpOff := opts
	dpOff.CLV.Grid = true // the exact fit is probed below
	models = append(models, canarySegment(t, ctx, c, client, dpOff, 2))
	canaryExactCLV(t, ctx, client)
	tDPOff := time.Since(t0)

	// Every node's tap saw raft, control and bulk traffic.
	for _, nd := range c.nodes {
		tot := rec.totals()[nd.site]
		for _, k := range []string{"raft", "control", "bulk"} {
			if tot[k][0] == 0 {
				t.Errorf("%s's tap recorded no %s bytes: is it wired?", nd.site, k)
			}
		}
		t.Logf("%s sent: %v (bytes, tap calls per kind)", nd.site, tot)
	}

	// Build the needles and scan.
	t0 = time.Now()
	ns := canaryNeedlesFor(t, sites, local, models)
	tBuild := time.Since(t0)
	links, data := rec.since(nil)
	total := 0
	for _, l := range links {
		total += len(data[l])
	}
	leaks := canaryScan(ns, links, data, 5)
	tScan := time.Since(t0)
	t.Logf("scanned %d bytes on %d links for %d needles (%d users, %d orders) in %v (needles built in %v)",
		total, len(links), len(ns.list), canaryUsers(sites), canaryOrders(sites), tScan.Round(time.Millisecond), tBuild.Round(time.Millisecond))
	for i, l := range leaks {
		if i == 30 {
			t.Errorf("... and %d more", len(leaks)-i)
			break
		}
		t.Errorf("LEAK: %v", l)
	}

	// The needles are the ids as the sites hold them: each site's own
	// outputs, scanned the same way, show every one of its users.
	for i, nd := range c.nodes {
		canaryOwnOutputs(t, nd, ns, local[i].ids)
	}

	// Positive control: a round that does leak is caught.
	canaryPlant(t, ctx, c, client, rec, ns, sites)
	t.Logf("set-up %v, segmentation DP on %v, DP off %v, scan %v, total %v", tSetup.Round(time.Millisecond),
		tDPOn.Round(time.Millisecond), tDPOff.Round(time.Millisecond), tScan.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// canarySegment runs a segmentation as `strata segment` does
// (fedjobs.Segment through the admin API: the jobs, then the model
// committed), waits until every site labelled its users with the model
// (version), fetches what an operator would read from every node (the
// latest model, the report, the site's activation), and returns the model.
func canarySegment(t *testing.T, ctx context.Context, c *cluster, client *admin.Client, opt jobs.Options, version uint64) *segmodel.Model {
	t.Helper()
	res, err := fedjobs.Segment(ctx, client, fedjobs.SegmentOptions{Jobs: opt})
	if err != nil {
		t.Fatalf("segmentation (privacy %+v): %v", opt.Privacy, err)
	}
	if res.Version != version {
		t.Fatalf("segmentation committed model version %d, want %d", res.Version, version)
	}
	t.Logf("model v%d (privacy %+v) from %d rounds in %.2fs: %+v", res.Version, opt.Privacy, len(res.Rounds), res.Seconds, res.Phases)
	waitUntil(t, time.Minute, fmt.Sprintf("every site to label its users with model v%d", version), func() bool {
		for _, nd := range c.nodes {
			if a := nd.d.Activation(); a.ModelVersion != version {
				return false
			}
		}
		return true
	})
	for _, nd := range c.nodes {
		nc := &admin.Client{Addrs: []string{"http://" + nd.admin}, HTTP: client.HTTP}
		_, err := nc.LatestModel(ctx)
		must(t, err)
		if _, err := nc.Report(ctx); err != nil {
			t.Errorf("%s: no report for model v%d: %v", nd.site, version, err)
		}
		_, err = nc.Activation(ctx)
		must(t, err)
	}
	return res.Jobs.Model
}

// canaryExactCLV runs the first rounds of the exact CLV fit (DP off: one
// round per likelihood evaluation, a few hundred in all, too long for this
// test), so its statistics' traffic is recorded too: the start round and
// canaryCLVEvals BG/NBD evaluations, then the fit stops with ErrFit (or
// converges).
func canaryExactCLV(t *testing.T, ctx context.Context, client *admin.Client) {
	t.Helper()
	sum := &fedjobs.Summer{Runner: fedjobs.ClientRunner{Client: client}}
	_, err := jobs.RunCLV(ctx, sum, jobs.Privacy{}, jobs.CLVOptions{MaxEvals: canaryCLVEvals})
	if err != nil && !errors.Is(err, jobs.ErrFit) {
		t.Fatalf("exact CLV: %v", err)
	}
	stats := map[string]int{}
	for _, r := range sum.Rounds() {
		stats[r.Statistic]++
	}
	if stats["clv.start"] != 1 || stats["clv.bgnbd"] == 0 {
		t.Fatalf("exact CLV ran rounds %v, want clv.start and clv.bgnbd", stats)
	}
	t.Logf("exact CLV probe: rounds %v (%v)", stats, err)
}

// canaryCLVEvals is how many BG/NBD evaluations canaryExactCLV runs.
const canaryCLVEvals = 15

// canaryNeedlesFor builds the needles of the canary data: see TestCanary.
func canaryNeedlesFor(t *testing.T, sites []*canarySite, local []canaryLocal, models []*segmodel.Model) *canaryNeedles {
	t.Helper()
	ns := &canaryNeedles{}
	seenID := map[string]bool{}
	for _, s := range sites {
		for _, u := range s.users {
			if !seenID[u.id] {
				seenID[u.id] = true
				ns.addUserID(u.id)
			}
			ns.addAmount(u.total, "total of user "+u.id)
			for _, o := range u.orders {
				ns.addText(o.id, ns.value("order id "+o.id))
				ns.addAmount(o.cents, "amount of order "+o.id)
				ns.addTime(o.unix, "time of order "+o.id)
			}
		}
	}
	// Per-user floats: keep the distinctive ones.
	type val struct {
		v    float64
		what string
	}
	var vals []val
	count := map[uint64]int{}
	addVal := func(v float64, what string) {
		// Distinctive: finite, not a whole number, in a normal range, at
		// least 6 non-zero bytes of 8, 10+ characters as text.
		bits := math.Float64bits(v)
		nonZero := 0
		for i := range 8 {
			if byte(bits>>(8*i)) != 0 {
				nonZero++
			}
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v == math.Trunc(v) || math.Abs(v) < 1e-9 || nonZero < 6 ||
			len(strconv.FormatFloat(v, 'g', -1, 64)) < 10 {
			return
		}
		count[bits>>8]++ // values equal but for the last bits are not distinctive either
		vals = append(vals, val{v, what})
	}
	smallest := make([]int, len(models))
	for i, l := range local {
		cols := l.data.Columns()
		feat := l.data.Features()
		for j, id := range l.ids {
			who := fmt.Sprintf("user %s at site-%d", id, i)
			if cols.CLV != nil {
				addVal(cols.CLV[j].Tx, "CLV t_x of "+who)
				addVal(cols.CLV[j].T, "CLV T of "+who)
			}
			if cols.MeanValue != nil {
				addVal(cols.MeanValue[j], "mean repeat value of "+who)
			}
			addVal(feat[3*j+2], "log1p monetary feature of "+who)
		}
		for v, m := range models {
			labels, err := segmodel.Label(m, l.data)
			must(t, err)
			for j, lb := range labels {
				who := fmt.Sprintf("user %s at site-%d (model %d)", l.ids[j], i, v+1)
				addVal(lb.PAlive, "P(alive) of "+who)
				addVal(lb.ExpectedPurchases, "expected purchases of "+who)
				addVal(lb.CLV, "CLV of "+who)
			}
			// The site's audiences partition its users; the smallest one
			// is its smallest segment × channel cell.
			aud, err := segmodel.Audiences(m, labels, l.ids)
			must(t, err)
			n := 0
			for _, a := range aud {
				n += len(a.IDs)
				if len(a.IDs) > 0 && (smallest[v] == 0 || len(a.IDs) < smallest[v]) {
					smallest[v] = len(a.IDs)
				}
			}
			if n != len(l.ids) {
				t.Errorf("site-%d model %d: audiences hold %d ids, the site has %d users", i, v+1, n, len(l.ids))
			}
		}
	}
	t.Logf("smallest non-empty segment × channel cell per model: %v users", smallest)
	floats := 0
	for _, x := range vals {
		if count[math.Float64bits(x.v)>>8] == 1 {
			ns.addFloat(x.v, ns.value(x.what))
			floats++
		}
	}
	if floats == 0 {
		t.Error("no distinctive per-user float to search for")
	}
	ns.build()
	return ns
}

// canaryPlant is the end-to-end positive control: a secure sum that leaks a
// user id (as the statistic's name), a user's total and a numeric user id
// (as one site's exact, DP-off values) must be found in the leader's raft
// traffic.
func canaryPlant(t *testing.T, ctx context.Context, c *cluster, client *admin.Client, rec *canaryRecorder, ns *canaryNeedles, sites []*canarySite) {
	t.Helper()
	mark := rec.mark()
	id := sites[0].users[0].id
	amount := sites[0].users[1].total
	var num int64
	for _, s := range sites {
		for _, u := range s.users {
			if v, err := strconv.ParseInt(u.id, 10, 64); err == nil && num == 0 {
				num = v
			}
		}
	}
	for i, nd := range c.nodes {
		v := []int64{0, 0}
		if i == 1 {
			v = []int64{amount, num}
		}
		must(t, nodeClient(nd).SetStatistic(ctx, id, "", v))
	}
	res, err := client.SecureSum(ctx, securesum.Spec{Statistic: id, Lo: 0, Hi: 1 << 55}, time.Minute)
	must(t, err)
	if len(res.Values) != 2 || res.Values[0] != amount || res.Values[1] != num {
		t.Fatalf("planted round released %v, want [%d %d]", res.Values, amount, num)
	}
	leader := c.leader().site
	links, data := rec.since(mark)
	var raft []canaryLink
	for _, l := range links {
		if l.from == leader && l.kind == "raft" {
			raft = append(raft, l)
		}
	}
	found := map[string]bool{}
	for _, l := range canaryScan(ns, raft, data, 1000) {
		switch {
		case l.userID == id && l.what == "user id "+id+" as text":
			found["id"] = true
		case strings.HasPrefix(l.what, fmt.Sprintf("total of user %s in cents %d as ", sites[0].users[1].id, amount)) && strings.Contains(l.what, "int64 LE"):
			found["amount"] = true // the released values: int64 LE, base64 in the log's JSON
		case strings.HasPrefix(l.what, fmt.Sprintf("user id %d as ", num)) && strings.Contains(l.what, "int64 LE"):
			found["number"] = true
		}
		t.Logf("positive control found: %v", l)
	}
	for _, what := range []string{"id", "amount", "number"} {
		if !found[what] {
			t.Errorf("positive control: the planted %s was not found in %s's raft traffic (%d links)", what, leader, len(raft))
		}
	}
}

// canaryOwnOutputs checks that scanning a site's own labels.csv (which
// holds its user ids, by design: it never leaves the site) finds each of
// ids.
func canaryOwnOutputs(t *testing.T, nd *testNode, ns *canaryNeedles, ids []string) {
	t.Helper()
	path := filepath.Join(nd.d.Activation().OutDir, "labels.csv")
	b, err := os.ReadFile(path)
	must(t, err)
	found := map[string]bool{}
	for _, h := range ns.scan(b, math.MaxInt) {
		if id := ns.list[h.needle].userID; id != "" {
			found[id] = true
		}
	}
	missing := 0
	for _, id := range ids {
		if !found[id] {
			missing++
		}
	}
	if missing > 0 || len(ids) == 0 {
		t.Errorf("%s: scanning its own %s found %d of its %d user ids", nd.site, path, len(ids)-missing, len(ids))
	}
}

func canaryUsers(sites []*canarySite) int {
	n := 0
	for _, s := range sites {
		n += len(s.users)
	}
	return n
}

func canaryOrders(sites []*canarySite) int {
	n := 0
	for _, s := range sites {
		for _, u := range s.users {
			n += len(u.orders)
		}
	}
	return n
}
