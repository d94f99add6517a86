package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good testdata: %v", err)
	}
	for _, f := range files {
		if _, err := LoadFile(f); err != nil {
			t.Errorf("LoadFile(%s) = %v, want no error", f, err)
		}
	}
}

func TestMinimalDefaults(t *testing.T) {
	c, err := LoadFile("testdata/minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if c.Listen != DefaultListen || c.Advertise != DefaultListen || c.Admin != DefaultAdmin {
		t.Errorf("addresses = %q %q %q, want defaults", c.Listen, c.Advertise, c.Admin)
	}
	if want := filepath.Join(dir, "data"); c.DataDir != want {
		t.Errorf("DataDir = %q, want %q", c.DataDir, want)
	}
	if want := filepath.Join(dir, "certs/ca.pem"); c.TLS.CA != want {
		t.Errorf("TLS.CA = %q, want %q (resolved against the file's directory)", c.TLS.CA, want)
	}
	if c.Raft.HeartbeatTimeout != DefaultHeartbeatTimeout || c.Raft.SnapshotThreshold != DefaultSnapshotThreshold {
		t.Errorf("raft defaults not applied: %+v", c.Raft)
	}
	if c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("log defaults = %+v", c.Log)
	}
	if c.Federation.AllowDPOff {
		t.Error("Federation.AllowDPOff defaults to true, want false")
	}
}

func TestFullFileKeepsValues(t *testing.T) {
	c, err := LoadFile("testdata/full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Raft.ElectionTimeout != time.Second || c.Raft.SnapshotThreshold != 1024 {
		t.Errorf("raft = %+v", c.Raft)
	}
	if !c.Federation.NonVoter || !c.Federation.AllowDPOff || len(c.Federation.Join) != 1 || c.Log.Format != "json" {
		t.Errorf("federation/log = %+v %+v", c.Federation, c.Log)
	}
	if c.TLS.KeyLogFile != "/tmp/keys.log" {
		t.Errorf("KeyLogFile = %q", c.TLS.KeyLogFile)
	}
}

func TestLoadBadFiles(t *testing.T) {
	cases := []struct {
		file    string
		is      error
		message string
	}{
		{"unknown_key.bad.yml", ErrParse, "sitee"},
		{"bad_site.bad.yml", ErrInvalid, "site: invalid site id: \"Site_A\""},
		{"missing_tls.bad.yml", ErrInvalid, "tls.ca: is required"},
		{"no_join.bad.yml", ErrInvalid, "bootstrap: true"},
		{"lease.bad.yml", ErrInvalid, "raft.leader_lease_timeout"},
		{"self_not_listed.bad.yml", ErrInvalid, "must include this node's own site"},
		{"bad_addr.bad.yml", ErrInvalid, "advertise: \"0.0.0.0:7400\" is not dialable"},
		{"bad_duration.bad.yml", ErrParse, "soon"},
		{"empty.bad.yml", ErrParse, "empty"},
		{"remote_admin.bad.yml", ErrInvalid, "admin: \"0.0.0.0:7480\" is not a loopback address"},
		{"data_nofile.bad.yml", ErrInvalid, "data: give file:"},
		{"data_asof.bad.yml", ErrInvalid, "data.as_of: \"yesterday\" is not an ISO-8601"},
		{"data_channel.bad.yml", ErrInvalid, "data.channel: \"brand store\""},
		{"data_unknown_key.bad.yml", ErrParse, "field path not found"},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.file] = true
		_, err := LoadFile(filepath.Join("testdata", tc.file))
		if !errors.Is(err, tc.is) {
			t.Errorf("LoadFile(%s) = %v, want errors.Is %v", tc.file, err, tc.is)
			continue
		}
		if !strings.Contains(err.Error(), tc.message) {
			t.Errorf("LoadFile(%s) = %q, want it to contain %q", tc.file, err, tc.message)
		}
		if !strings.Contains(err.Error(), tc.file) {
			t.Errorf("LoadFile(%s) = %q, want it to name the file", tc.file, err)
		}
	}
	files, _ := filepath.Glob("testdata/*.bad.yml")
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no expected error in this table", f)
		}
	}
}

func TestDataSection(t *testing.T) {
	c, err := LoadFile("testdata/data.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	want := Data{
		File: filepath.Join(dir, "sales/site-a.csv.gz"), Source: filepath.Join(dir, "sales/site-a.source.yaml"),
		Channel: "brand-store", AsOf: "2025-01-01", Out: "/srv/strata/out",
	}
	if c.Data == nil || *c.Data != want {
		t.Errorf("Data = %+v, want %+v", c.Data, want)
	}
	c, err = LoadFile("testdata/data_minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	want = Data{File: filepath.Join(dir, "site-a.csv"), Channel: "site-a", Out: filepath.Join(dir, "data", DefaultDataOut)}
	if c.Data == nil || *c.Data != want {
		t.Errorf("defaults: Data = %+v, want %+v (channel = site, out under data_dir)", c.Data, want)
	}
	c, err = LoadFile("testdata/minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != nil {
		t.Errorf("no data: section gave Data = %+v, want nil", c.Data)
	}
}

// TestExampleConfig loads the documented example, so it cannot go stale.
func TestExampleConfig(t *testing.T) {
	c, err := LoadFile(filepath.Join("..", "..", "deploy", "local", "node.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Data == nil || c.Data.Channel == "" || c.Data.Out == "" {
		t.Errorf("example data section = %+v, want it documented with defaults filled in", c.Data)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want os.ErrNotExist", err)
	}
}

// TestEveryFieldHasDefaultOrCheck fails when a field is added to Config
// without being handled here: add it to setDefaults/Validate and to the list.
func TestEveryFieldHasDefaultOrCheck(t *testing.T) {
	handled := map[string]bool{
		"Site": true, "DataDir": true, "Listen": true, "Advertise": true, "Admin": true, "AdminAllowRemote": true,
		"TLS.CA": true, "TLS.Cert": true, "TLS.Key": true, "TLS.KeyLogFile": true,
		"Raft.HeartbeatTimeout": true, "Raft.ElectionTimeout": true, "Raft.LeaderLeaseTimeout": true,
		"Raft.CommitTimeout": true, "Raft.SnapshotThreshold": true, "Raft.SnapshotInterval": true,
		"Federation.Bootstrap": true, "Federation.Sites": true, "Federation.Join": true, "Federation.NonVoter": true,
		"Federation.AllowDPOff": true, "Log.Level": true, "Log.Format": true,
		"Data.File": true, "Data.Source": true, "Data.Channel": true, "Data.AsOf": true, "Data.Out": true,
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name := prefix + f.Name
			ft := f.Type
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem() // optional sections (data:)
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Duration(0)) {
				if f.Tag.Get("yaml") == "" {
					t.Errorf("section %s has no yaml tag", name)
				}
				walk(name+".", ft)
				continue
			}
			if !handled[name] {
				t.Errorf("field %s is not handled by setDefaults/Validate (update this test once it is)", name)
			}
			if f.Tag.Get("yaml") == "" {
				t.Errorf("field %s has no yaml tag", name)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
}
