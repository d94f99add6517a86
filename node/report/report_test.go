package report

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var (
	rewrite  = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")
	htmlPath = flag.String("html", "", "also write the sample report's HTML page to this path")
)

func TestGoldenJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleReport()); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	golden := filepath.Join("testdata", "sample.golden.json")
	if *rewrite {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteJSON output differs from %s (run with -rewrite if the change is intended):\n%s", golden, firstDiff(buf.String(), string(want)))
	}
	// The golden file decodes back to the same report.
	got, err := ReadJSON(bytes.NewReader(want))
	if err != nil {
		t.Fatalf("ReadJSON(golden): %v", err)
	}
	if !reflect.DeepEqual(got, sampleReport()) {
		t.Errorf("ReadJSON(golden) differs from the sample report")
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "line " + itoa(i+1) + ":\n got  " + al[i] + "\n want " + bl[i]
		}
	}
	return "lengths differ: " + itoa(len(al)) + " vs " + itoa(len(bl)) + " lines"
}

func itoa(n int) string { return groupInt(int64(n)) }

func render(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return buf.String()
}

func TestSampleHTML(t *testing.T) {
	r := sampleReport()
	page := render(t, r)
	if *htmlPath != "" {
		if err := os.WriteFile(*htmlPath, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Errorf("page does not start with the doctype and end with </html>")
	}
	for _, want := range []string{
		"acme-fashion / 2024-h1", "Generated 2026-11-23 07:30 UTC", "Pipeline 24.6 s", "Model v7", "Rule set rfm11",
		"Differentially private · ε 1, δ 1e-06",
		"0.2431", "4.4142", "0.7931", "2.4259", // BG/NBD
		"6.2499", "3.7443", "15.4428", // Gamma-Gamma
		"<span class=\"cut\">31</span>", "<span class=\"cut\">512.3</span>", // thresholds
		"high value, recent", "1,185", "214.60", // centroids in original units
		"site-market", "127.0.0.1:7402", // members
		"PSI cardinality, discrete Gaussian noise",
		"r-0016", "channel overlap", "(refunded)", // charges
		"ε 0.69", // spent, in the gauge
		"Revenue shares are computed from DP sums of integer cents.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, s := range r.Segments {
		if !strings.Contains(page, ">"+s.Name+"<") {
			t.Errorf("page lacks segment %q", s.Name)
		}
	}
	// One bar per segment × channel, with its count in the bar's tooltip.
	bars := regexp.MustCompile(`<title>[^<]* · [^<]*: [0-9,]+ users</title>`).FindAllString(page, -1)
	if want := len(r.Segments) * len(r.Channels); len(bars) != want {
		t.Errorf("%d segment bars, want %d", len(bars), want)
	}
	cell := r.Segments[0].Cells[1]
	if want := "champions · marketplace: " + groupInt(cell.Users) + " users"; !strings.Contains(page, want) {
		t.Errorf("page lacks the bar tooltip %q", want)
	}
	if strings.Contains(page, "DP noise OFF") {
		t.Errorf("DP-on page shows the noise-off badge")
	}

	r.Budget.NoiseOff = true
	if page := render(t, r); !strings.Contains(page, "DP noise OFF") || !strings.Contains(page, "must not be released") {
		t.Errorf("noise-off page lacks its warning")
	}
}

// TestSelfContained: the page references nothing outside itself.
func TestSelfContained(t *testing.T) {
	page := strings.ToLower(render(t, sampleReport()))
	for _, bad := range []string{"http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link", "<iframe", "<object", "<embed", "//cdn", "xlink:"} {
		if strings.Contains(page, bad) {
			i := strings.Index(page, bad)
			t.Errorf("page contains %q near %q", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
}

func TestEscapesStrings(t *testing.T) {
	const attack = `<script>alert(1)</script>`
	const attr = `"><img src=x onerror=alert(2)>`
	r := sampleReport()
	r.Title = attack
	r.Federation = attr
	r.Segments[0].Name = attack
	r.Segments[1].Name = attr
	r.Channels[0].Name = attack
	r.Overlap.Sets[0].Channels[0] = attack
	r.Overlap.Sets[3].Channels[0] = attack
	r.Overlap.Sets[4].Channels[0] = attack
	r.Overlap.Sets[6].Channels[0] = attack
	r.Members[0].Site = attack
	r.Model.Clusters[0].Label = attr
	r.Budget.Charges[0].Purpose = attack
	r.Budget.Charges[1].Round = attr
	r.Notes = append(r.Notes, attack)
	page := render(t, r)
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(lower, bad) {
			i := strings.Index(lower, bad)
			t.Errorf("page contains unescaped %q near %q", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 8 {
		t.Errorf("escaped attack string appears %d times, want it everywhere it was put (≥ 8)", n)
	}
}

func TestMinimalReport(t *testing.T) {
	page := render(t, &Report{})
	for _, want := range []string{defaultTitle, "No charges yet.", "Not computed in this run."} {
		if !strings.Contains(page, want) {
			t.Errorf("empty report page lacks %q", want)
		}
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, &Report{}); err != nil {
		t.Fatalf("WriteJSON(empty): %v", err)
	}
}

func TestInvalidReports(t *testing.T) {
	for name, mutate := range map[string]func(*Report){
		"cells short":       func(r *Report) { r.Segments[2].Cells = r.Segments[2].Cells[:2] },
		"share above 1":     func(r *Report) { r.Segments[0].Cells[0].RevenueShare = 1.2 },
		"share NaN":         func(r *Report) { r.Segments[0].Cells[0].RevenueShare = math.NaN() },
		"clv infinite":      func(r *Report) { r.Segments[0].Cells[1].MeanCLV = math.Inf(1) },
		"negative epsilon":  func(r *Report) { r.Budget.SpentEpsilon = -0.1 },
		"charge NaN":        func(r *Report) { r.Budget.Charges[3].Epsilon = math.NaN() },
		"duplicate channel": func(r *Report) { r.Channels[1].Name = r.Channels[0].Name },
		"unknown overlap":   func(r *Report) { r.Overlap.Sets[0].Channels = []string{"tv-shop"} },
		"empty overlap set": func(r *Report) { r.Overlap.Sets[0].Channels = nil },
		"centroid NaN":      func(r *Report) { r.Model.Clusters[1].Monetary = math.NaN() },
		"threshold Inf":     func(r *Report) { r.Model.Thresholds.Monetary[0] = math.Inf(-1) },
		"bgnbd NaN":         func(r *Report) { r.Model.BGNBD.Alpha = math.NaN() },
	} {
		r := sampleReport()
		mutate(r)
		var buf bytes.Buffer
		if err := WriteHTML(&buf, r); !errors.Is(err, ErrInvalidReport) || buf.Len() != 0 {
			t.Errorf("%s: WriteHTML = %v with %d bytes written, want ErrInvalidReport and nothing", name, err, buf.Len())
		}
		if err := WriteJSON(&buf, r); !errors.Is(err, ErrInvalidReport) || buf.Len() != 0 {
			t.Errorf("%s: WriteJSON = %v with %d bytes written, want ErrInvalidReport and nothing", name, err, buf.Len())
		}
	}
	if _, err := ReadJSON(strings.NewReader(`{"federation": "x", "extra": 1}`)); err == nil {
		t.Errorf("ReadJSON accepted an unknown field")
	}
}

func TestHandler(t *testing.T) {
	sample := sampleReport()
	var srcErr error
	srv := httptest.NewServer(Handler(func(context.Context) (*Report, error) {
		if srcErr != nil {
			return nil, srcErr
		}
		return sample, nil
	}))
	t.Cleanup(srv.Close)
	get := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp, b.String()
	}

	resp, body := get("GET", "/report")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /report: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if body != render(t, sample) {
		t.Errorf("GET /report body differs from WriteHTML")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET /report CSP %q, want default-src 'none'", csp)
	}

	resp, body = get("GET", "/report.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /report.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got, err := ReadJSON(strings.NewReader(body))
	if err != nil || !reflect.DeepEqual(got, sample) {
		t.Errorf("GET /report.json does not decode to the report (err %v)", err)
	}

	if resp, body = get("HEAD", "/report"); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /report: %d, %d body bytes", resp.StatusCode, len(body))
	}
	if resp, _ = get("GET", "/nothing"); resp.StatusCode != 404 {
		t.Errorf("GET /nothing: %d, want 404", resp.StatusCode)
	}
	if resp, _ = get("POST", "/report"); resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Errorf("POST /report: %d Allow %q, want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"))
	}

	srcErr = ErrNoReport
	if resp, _ = get("GET", "/report.json"); resp.StatusCode != 503 {
		t.Errorf("no report: %d, want 503", resp.StatusCode)
	}
	srcErr = errors.New("disk on fire at /secret/path")
	if resp, body = get("GET", "/report"); resp.StatusCode != 500 || strings.Contains(body, "secret") {
		t.Errorf("source error: %d %q, want 500 without the error text", resp.StatusCode, body)
	}
	srcErr = nil
	bad := sampleReport()
	bad.Segments[0].Cells = nil
	sample = bad
	if resp, _ = get("GET", "/report"); resp.StatusCode != 500 {
		t.Errorf("invalid report: %d, want 500", resp.StatusCode)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{groupInt(0), "0"}, {groupInt(999), "999"}, {groupInt(1000), "1,000"}, {groupInt(-1234567), "-1,234,567"},
		{money(12.5), "12.50"}, {money(1234.567), "1,235"},
		{num(0.25, 3), "0.25"}, {num(2, 3), "2"}, {num(0.12345, 4), "0.1235"},
		{pct(0.1234), "12.3%"}, {sci(1e-6), "1e-06"}, {sci(0), "0"},
		{seconds(4.25), "4.2 s"}, {seconds(125), "2m5s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for v, want := range map[float64]float64{0: 0, 7: 10, 1: 1, 120: 200, 230: 250, 1_146_160: 2_000_000, 401_000: 500_000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	if s, full := shorten("potential_loyalist_with_a_long_tail", 10); s != "potential…" || full == "" {
		t.Errorf("shorten = %q, %q", s, full)
	}
}

func TestSave(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := sampleReport()
	hp, jp, err := Save(dir, r)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	h, err := os.ReadFile(hp)
	if err != nil || string(h) != render(t, r) {
		t.Errorf("%s differs from WriteHTML (err %v)", hp, err)
	}
	j, err := os.ReadFile(jp)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ReadJSON(bytes.NewReader(j)); err != nil || !reflect.DeepEqual(got, r) {
		t.Errorf("%s does not decode to the report (err %v)", jp, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d files in %s, want 2 (no temporary files left)", len(entries), dir)
	}
	r.Segments[0].Cells = nil
	if _, _, err := Save(t.TempDir(), r); !errors.Is(err, ErrInvalidReport) {
		t.Errorf("Save(invalid) = %v, want ErrInvalidReport", err)
	}
}
