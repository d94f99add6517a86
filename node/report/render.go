package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
)

//go:embed assets/report.html.tmpl assets/style.css
var assets embed.FS

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"f":    func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"num":  func(v float64) string { return num(v, 3) },
	"num4": func(v float64) string { return num(v, 4) },
	"sci":  sci,
	"css":  func() template.CSS { return template.CSS(mustAsset("assets/style.css")) },
}).ParseFS(assets, "assets/report.html.tmpl"))

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic("report: embedded asset missing: " + name) // a build defect, not bad input
	}
	return string(b)
}

// WriteJSON writes r as indented JSON after validating it.
func WriteJSON(w io.Writer, r *Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode json: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("report: write json: %w", err)
	}
	return nil
}

// ReadJSON decodes a report written by WriteJSON and validates it.
func ReadJSON(rd io.Reader) (*Report, error) {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("report: decode json: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// WriteHTML writes r as a self-contained HTML page: inline CSS and SVG
// charts, no script, no external reference. Every string from r is escaped.
// Nothing is written if r is invalid or rendering fails.
func WriteHTML(w io.Writer, r *Report) error {
	if err := r.Validate(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, "page", newView(r)); err != nil {
		return fmt.Errorf("report: render html: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: write html: %w", err)
	}
	return nil
}
