package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-fed/strata/federated/segmodel"
	"github.com/strata-fed/strata/node/admin"
	"github.com/strata-fed/strata/node/report"
)

// Files of a model version's output directory.
const (
	LabelsFile      = "labels.csv"
	AudiencesDir    = "audiences"
	ActivationFile  = "activation.json"
	audienceColumn  = "user_id"
	labelsCSVHeader = "user_id,segment,lifecycle_stage,cluster,p_alive,expected_purchases,clv"
)

// outputs is what one model version's directory holds.
type outputs struct {
	Version     uint64
	ContentHash string
	Model       *segmodel.Model
	Labels      []segmodel.UserLabel
	IDs         []string // IDs[i] is the user Labels[i] describes
	Audiences   []segmodel.Audience[string]
	Report      *report.Report // nil: no report files
}

// activationFile is activation.json: the local status of a written
// version, read back after a restart.
type activationFile struct {
	Version     uint64              `json:"version"`
	ContentHash string              `json:"content_hash"`
	Users       int                 `json:"users"`
	Segments    []admin.SegmentSize `json:"segments"`
	WrittenAt   time.Time           `json:"written_at"`
}

// writeOutputs writes root/name (labels.csv, audiences/<segment>.csv,
// report.json and report.html when o.Report is set, activation.json)
// atomically: everything goes to a temporary directory under root that is
// renamed to name last, so a crash leaves either the finished directory or
// none (and a temporary one that removeStaleTemps deletes). An existing
// root/name is an error.
func writeOutputs(root, name string, o outputs) (activationFile, error) {
	act := activationFile{Version: o.Version, ContentHash: o.ContentHash, Users: len(o.Labels), WrittenAt: time.Now().UTC()}
	if len(o.IDs) != len(o.Labels) {
		return act, fmt.Errorf("outputs of %s: %d ids for %d labels", name, len(o.IDs), len(o.Labels))
	}
	final := filepath.Join(root, name)
	if _, err := os.Stat(final); err == nil {
		return act, fmt.Errorf("outputs of %s: %s exists", name, final)
	}
	tmp, err := os.MkdirTemp(root, "."+name+".tmp-")
	if err != nil {
		return act, fmt.Errorf("outputs of %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeLabels(filepath.Join(tmp, LabelsFile), o); err != nil {
		return act, err
	}
	if err := os.Mkdir(filepath.Join(tmp, AudiencesDir), 0o700); err != nil {
		return act, fmt.Errorf("outputs of %s: %w", name, err)
	}
	files := audienceFiles(o.Audiences)
	for i, a := range o.Audiences {
		rel := filepath.Join(AudiencesDir, files[i])
		if err := writeAudience(filepath.Join(tmp, rel), a.IDs); err != nil {
			return act, err
		}
		act.Segments = append(act.Segments, admin.SegmentSize{Segment: a.Segment, Users: len(a.IDs), File: rel})
	}
	if o.Report != nil {
		if _, _, err := report.Save(tmp, o.Report); err != nil {
			return act, fmt.Errorf("outputs of %s: %w", name, err)
		}
	}
	b, err := json.MarshalIndent(act, "", "  ")
	if err != nil {
		return act, fmt.Errorf("outputs of %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ActivationFile), append(b, '\n'), 0o600); err != nil {
		return act, fmt.Errorf("outputs of %s: %w", name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return act, fmt.Errorf("outputs of %s: %w", name, err)
	}
	done = true
	return act, nil
}

// WriteSiteOutputs writes root/name exactly as a daemon writes a model
// version's outputs (labels.csv, audiences/<segment>.csv, activation.json;
// no report), atomically, for labels and audiences computed elsewhere
// (node/demo's centralized baseline). It returns the audience files written.
func WriteSiteOutputs(root, name string, m *segmodel.Model, labels []segmodel.UserLabel, ids []string, auds []segmodel.Audience[string]) ([]admin.SegmentSize, error) {
	act, err := writeOutputs(root, name, outputs{Model: m, Labels: labels, IDs: ids, Audiences: auds})
	return act.Segments, err
}

// readActivationFile reads dir/activation.json.
func readActivationFile(dir string) (activationFile, error) {
	var a activationFile
	b, err := os.ReadFile(filepath.Join(dir, ActivationFile))
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("%s: %w", filepath.Join(dir, ActivationFile), err)
	}
	return a, nil
}

// writeLabels writes labels.csv: one row per user in the site's order,
// p_alive and expected_purchases with 6 decimals, clv with 2, empty when
// the model predicts nothing for the user.
func writeLabels(path string, o outputs) error {
	segs := o.Model.Segments()
	return writeFile(path, func(w *bufio.Writer) error {
		w.WriteString(labelsCSVHeader + "\n")
		line := make([]byte, 0, 128)
		for i, l := range o.Labels {
			b := appendCSVField(line[:0], o.IDs[i])
			b = append(b, ',')
			b = appendCSVField(b, segs[l.Segment])
			b = append(b, ',')
			b = append(b, l.Stage...)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(l.Cluster), 10)
			b = append(b, ',')
			b = appendFloat(b, l.PAlive, 6)
			b = append(b, ',')
			b = appendFloat(b, l.ExpectedPurchases, 6)
			b = append(b, ',')
			b = appendFloat(b, l.CLV, 2)
			b = append(b, '\n')
			if _, err := w.Write(b); err != nil {
				return err
			}
			line = b
		}
		return nil
	})
}

// writeAudience writes one segment's ids under a user_id header.
func writeAudience(path string, ids []string) error {
	return writeFile(path, func(w *bufio.Writer) error {
		w.WriteString(audienceColumn + "\n")
		line := make([]byte, 0, 64)
		for _, id := range ids {
			b := append(appendCSVField(line[:0], id), '\n')
			if _, err := w.Write(b); err != nil {
				return err
			}
			line = b
		}
		return nil
	})
}

func writeFile(path string, fill func(*bufio.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// appendCSVField appends s as one CSV field, quoted as RFC 4180 requires
// when it holds a comma, quote or line break.
func appendCSVField(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\n\r") {
		return append(b, s...)
	}
	return append(append(b, '"'), strings.ReplaceAll(s, `"`, `""`)+`"`...)
}

// appendFloat appends v with prec decimals, nothing for NaN or ±Inf.
func appendFloat(b []byte, v float64, prec int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	return strconv.AppendFloat(b, v, 'f', prec, 64)
}

// audienceFiles names each audience's file: the segment label with every
// byte outside [A-Za-z0-9._-] replaced by '_' (a leading '.' too, so no
// name is hidden or "." / ".."), cut at 100 bytes, plus "-<n>" on a clash
// (case-insensitive), and ".csv".
func audienceFiles(auds []segmodel.Audience[string]) []string {
	out := make([]string, len(auds))
	used := map[string]bool{}
	for i, a := range auds {
		b := []byte(a.Segment)
		for j, c := range b {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' && j > 0) {
				b[j] = '_'
			}
		}
		base := string(b[:min(len(b), 100)])
		if base == "" {
			base = "segment"
		}
		name := base
		for n := 2; used[strings.ToLower(name)]; n++ {
			name = base + "-" + strconv.Itoa(n)
		}
		used[strings.ToLower(name)] = true
		out[i] = name + ".csv"
	}
	return out
}
