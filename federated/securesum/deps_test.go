package securesum

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDirKeyStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	ks, err := NewDirKeyStore(dir)
	must(t, err)
	if _, err := ks.Get("epoch-1.share"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Get(missing) = %v, want os.ErrNotExist", err)
	}
	must(t, ks.Put("epoch-1.share", []byte("secret")))
	must(t, ks.Put("epoch-1.share", []byte("secret2"))) // atomic replace
	b, err := ks.Get("epoch-1.share")
	if err != nil || string(b) != "secret2" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "epoch-1.share")} {
		fi, err := os.Stat(p)
		must(t, err)
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700 | os.ModeDir
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("key dir holds %d entries, want 1 (no temp files left)", len(ents))
	}
	if err := ks.Put("../escape", nil); err == nil {
		t.Error("Put(../escape) succeeded")
	}
}

func TestMemProvider(t *testing.T) {
	p := NewMemProvider()
	if _, err := p.Statistic(context.Background(), "x", nil); !errors.Is(err, ErrUnknownStatistic) {
		t.Fatalf("Statistic(unknown) = %v", err)
	}
	v := []int64{1, 2}
	must(t, p.Set("x", "", v))
	v[0] = 9 // the provider keeps its own copy
	got, err := p.Statistic(context.Background(), "x", nil)
	if err != nil || got[0] != 1 {
		t.Fatalf("Statistic = %v, %v", got, err)
	}
	got[1] = 9 // and hands out copies
	if again, _ := p.Statistic(context.Background(), "x", nil); again[1] != 2 {
		t.Fatal("Statistic returned shared storage")
	}
	for _, bad := range []string{"", "a b", "../x"} {
		if err := p.Set(bad, "", []int64{1}); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Set(%q) = %v, want ErrBadSpec", bad, err)
		}
	}
	if err := p.Set("y", "", nil); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Set(empty) = %v, want ErrBadSpec", err)
	}
	// Bound to a dataset: the statistic's name by default, or the one given.
	ctx := context.Background()
	must(t, p.Set("z", "orders", []int64{3}))
	for name, want := range map[string]string{"x": "x", "z": "orders"} {
		if b, err := p.Binding(ctx, name, nil); err != nil || b.Dataset != want || b.L1 != 0 || b.L2 != 0 {
			t.Errorf("Binding(%s) = %+v, %v; want dataset %s, no per-user bound", name, b, err, want)
		}
	}
	if err := p.Set("w", "bad name", []int64{1}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Set(bad dataset) = %v, want ErrBadSpec", err)
	}
	// Plain vectors take no params.
	if _, err := p.Statistic(ctx, "x", []byte(`{"k":1}`)); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Statistic(x, params) = %v, want ErrBadSpec", err)
	}
	if _, err := p.Binding(ctx, "x", []byte(`{"k":1}`)); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Binding(x, params) = %v, want ErrBadSpec", err)
	}
}
