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
	if _, err := p.Statistic(context.Background(), "x"); !errors.Is(err, ErrUnknownStatistic) {
		t.Fatalf("Statistic(unknown) = %v", err)
	}
	v := []int64{1, 2}
	must(t, p.Set("x", v))
	v[0] = 9 // the provider keeps its own copy
	got, err := p.Statistic(context.Background(), "x")
	if err != nil || got[0] != 1 {
		t.Fatalf("Statistic = %v, %v", got, err)
	}
	got[1] = 9 // and hands out copies
	if again, _ := p.Statistic(context.Background(), "x"); again[1] != 2 {
		t.Fatal("Statistic returned shared storage")
	}
	for _, bad := range []string{"", "a b", "../x"} {
		if err := p.Set(bad, []int64{1}); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Set(%q) = %v, want ErrBadSpec", bad, err)
		}
	}
	if err := p.Set("y", nil); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Set(empty) = %v, want ErrBadSpec", err)
	}
}
