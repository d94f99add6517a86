package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden transcripts in testdata/ with the actual output")

// TestGolden runs the data-driven transcripts in testdata/*.txt (in the manner
// of etcd-io/raft's interaction tests). A transcript is a sequence of blocks:
//
//	directive
//	----
//	expected output
//
// separated by blank lines; lines starting with # are comments. Directives:
//
//	<type> <json body>          apply a command of that type (v1), body as given
//	raw <bytes>                 apply the bytes as a raft log entry
//	show <view> [arg]           print state: settings, sites, keys, rounds, round ID,
//	                            results, budgets, models, index
//	covers <id>                 print Covers(id)
//	allowed <site>              print IsAllowed(site)
//	share <round> <site>        print ShareAllowed(round, site)
//	restore                     snapshot, restore into a fresh FSM, check the
//	                            snapshot bytes survive, continue on the fresh FSM
//
// In directives, $h(text) is replaced by the hex sha256 of text. Run
// `go test -run TestGolden -rewrite` to regenerate the outputs, then review the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no transcripts in testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := runTranscript(t, string(src))
			if *rewrite {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(src) {
				t.Errorf("transcript %s differs (run with -rewrite and review the diff):\n%s", file, lineDiff(string(src), got))
			}
		})
	}
}

var hashMacro = regexp.MustCompile(`\$h\(([^)]*)\)`)

func expandMacros(s string) string {
	return hashMacro.ReplaceAllStringFunc(s, func(m string) string {
		return sha256Hex([]byte(hashMacro.FindStringSubmatch(m)[1]))
	})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// runTranscript executes src and returns it with every output replaced by the
// actual output.
func runTranscript(t *testing.T, src string) string {
	t.Helper()
	h := &harness{t: t, f: New()}
	var out strings.Builder
	lines := strings.Split(strings.TrimRight(src, "\n"), "\n")
	for i := 0; i < len(lines); {
		line := lines[i]
		if line == "" || strings.HasPrefix(line, "#") || i+1 >= len(lines) || lines[i+1] != "----" {
			if line != "" && !strings.HasPrefix(line, "#") {
				t.Fatalf("line %d: directive %q not followed by ----", i+1, line)
			}
			out.WriteString(line + "\n")
			i++
			continue
		}
		// Skip the old output: up to the next blank line.
		j := i + 2
		for j < len(lines) && lines[j] != "" {
			j++
		}
		out.WriteString(line + "\n----\n")
		res := h.run(line)
		out.WriteString(strings.TrimRight(res, "\n") + "\n")
		i = j
	}
	return out.String()
}

type harness struct {
	t     *testing.T
	f     *FSM
	index uint64
}

func (h *harness) apply(data []byte) string {
	h.index++
	before := h.f.State()
	res := h.f.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}).(ApplyResult)
	if res.Err != nil {
		assertUnchanged(h.t, before, h.f.State())
		return fmt.Sprintf("error %s: %v", Code(res.Err), res.Err)
	}
	s := fmt.Sprintf("ok index=%d", res.Index)
	if len(res.Rounds) > 0 {
		s += fmt.Sprintf(" rounds=%v", res.Rounds)
	}
	return s
}

func (h *harness) run(line string) string {
	h.t.Helper()
	cmd, rest, _ := strings.Cut(expandMacros(line), " ")
	args := strings.Fields(rest)
	f := h.f
	switch cmd {
	case "raw":
		return h.apply([]byte(rest))
	case "show":
		if len(args) == 0 {
			h.t.Fatalf("show without view")
		}
		st := f.State()
		var v any
		switch args[0] {
		case "settings":
			v = st.Settings
		case "sites":
			v = f.Sites()
		case "keys":
			v = st.Keys
		case "rounds":
			v = f.Rounds()
		case "round":
			r, ok := f.Round(args[1])
			if !ok {
				return "no such round"
			}
			v = r
		case "results":
			v = st.Results
		case "budgets":
			v = f.Budgets()
		case "models":
			v = st.Models
		case "index":
			return fmt.Sprintf("applied=%d now=%d", f.AppliedIndex(), f.Now())
		default:
			h.t.Fatalf("unknown view %q", args[0])
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			h.t.Fatal(err)
		}
		return string(b)
	case "covers":
		return fmt.Sprint(f.Covers(args[0]))
	case "allowed":
		return fmt.Sprint(f.IsAllowed(args[0]))
	case "share":
		if err := f.ShareAllowed(args[0], args[1]); err != nil {
			return fmt.Sprintf("refused %s: %v", Code(err), err)
		}
		return "allowed"
	case "restore":
		snap, err := f.SnapshotBytes()
		if err != nil {
			h.t.Fatal(err)
		}
		g := New()
		if err := g.RestoreBytes(snap); err != nil {
			h.t.Fatal(err)
		}
		again, err := g.SnapshotBytes()
		if err != nil {
			h.t.Fatal(err)
		}
		if !bytes.Equal(snap, again) {
			h.t.Fatalf("snapshot changed across restore:\n%s\n%s", snap, again)
		}
		h.f = g
		return fmt.Sprintf("restored %d bytes", len(snap))
	}
	if _, ok := newCommand(CommandType(cmd)); !ok {
		h.t.Fatalf("unknown directive %q", cmd)
	}
	env := fmt.Sprintf(`{"type":%q,"v":%d,"body":%s}`, cmd, Version, rest)
	return h.apply([]byte(env))
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(w), len(g)) && n < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			n++
		}
	}
	return b.String()
}
