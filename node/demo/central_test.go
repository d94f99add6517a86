package demo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-fed/strata/node/engine"
)

// TestAnalysePooledKeepsSitesApart: the pooled analysis counts a user id
// present at two sites as two users (one per site), whether the ids are
// numeric (the engine's fast path), text, or numbers too large to carry
// the site in their low bits, and gives each site back its own users.
func TestAnalysePooledKeepsSitesApart(t *testing.T) {
	dir := t.TempDir()
	const head = "user_id,order_id,ts,amount\n"
	files := map[string]string{
		"a.csv": head + "1,o1,2024-01-01T10:00:00Z,10.00\n1,o2,2024-02-01T10:00:00Z,5.00\n10,o3,2024-03-01T10:00:00Z,7.50\n",
		"b.csv": head + "x,o1,2024-01-05T10:00:00Z,3.00\n1,o2,2024-01-06T10:00:00Z,4.00\n",
		"c.csv": head + "1,o1,2024-01-07T10:00:00Z,1.00\n4611686018427387905,o2,2024-01-08T10:00:00Z,2.00\n",
	}
	var sites []Site
	for _, name := range []string{"a.csv", "b.csv", "c.csv"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(files[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		sites = append(sites, Site{ID: name[:1], Channel: name[:1], Data: p})
	}
	asOf := time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)
	p, err := analysePooled(context.Background(), sites, engine.Config{Only: engine.OnlyRFM, AsOf: asOf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]int64{ // per site: id → orders
		{"1": 2, "10": 1},
		{"x": 1, "1": 1},
		{"1": 1, "4611686018427387905": 1},
	}
	for i, w := range want {
		d, ids := p.sites[i], p.ids[i]
		if d.Len() != len(w) || len(ids) != len(w) || d.Channel != sites[i].Channel {
			t.Errorf("site %s: %d users, ids %v, channel %q; want %v", sites[i].ID, d.Len(), ids, d.Channel, w)
			continue
		}
		for k, id := range ids {
			if f := d.Columns().Frequency[k]; f != w[id] {
				t.Errorf("site %s: user %q has %d orders, want %d", sites[i].ID, id, f, w[id])
			}
		}
	}
}
