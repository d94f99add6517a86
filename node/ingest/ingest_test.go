package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// collect reads src and returns the accepted rows (copied) and accounting.
func collect(t *testing.T, src *Source) ([]Row, Accounting, error) {
	t.Helper()
	var rows []Row
	acc, err := src.Read(context.Background(), func(r *Row) error {
		c := *r
		c.User = bytes.Clone(r.User)
		c.Order = bytes.Clone(r.Order)
		c.Channel = bytes.Clone(r.Channel)
		c.Inviter = bytes.Clone(r.Inviter)
		rows = append(rows, c)
		return nil
	}, nil)
	if err == nil && !acc.Balanced() {
		t.Errorf("accounting not balanced: %+v", acc)
	}
	return rows, acc, err
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestEdgeFixtureRows(t *testing.T) {
	rows, acc, err := collect(t, DefaultSource("testdata/edge.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if acc.Read != 13 || acc.Accepted != 13 || acc.HeaderLines != 1 {
		t.Fatalf("accounting = %+v, want 13 read and accepted", acc)
	}
	// line 8 is `3,302,2024-02-01T12:00:00Z,0.01,"web, mobile"`
	r := rows[6]
	if string(r.User) != "3" || r.UserNum != 3 || !r.UserIsNum || r.OrderKey != 302 || r.Cents != 1 ||
		string(r.Channel) != "web, mobile" || r.Line != 8 {
		t.Errorf("row 7 = %+v (channel %q), want user 3 order 302 cents 1 channel %q line 8", r, r.Channel, "web, mobile")
	}
	if want := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC).Unix(); r.Unix != want {
		t.Errorf("Unix = %d, want %d", r.Unix, want)
	}
	if rows[8].Cents != -5000 {
		t.Errorf("refund line cents = %d, want -5000", rows[8].Cents)
	}
}

func TestMalformedInputs(t *testing.T) {
	const header = "user_id,order_id,ts,amount\n"
	cases := []struct {
		name, data string
		want       string // substring of the error
		line       int64
	}{
		{"bad number", header + "1,1,2024-01-01T00:00:00Z,1.0\n2,2,2024-01-01T00:00:00Z,12x.5\n", `:3: amount: "12x.5": not a decimal number`, 3},
		{"two dots", header + "1,1,2024-01-01T00:00:00Z,1.0.0\n", `:2: amount: "1.0.0": not a decimal number`, 2},
		{"wrong column count", header + "1,1,2024-01-01T00:00:00Z\n", ":2: row: has 3 fields, want 4", 2},
		{"too many columns", header + "1,1,2024-01-01T00:00:00Z,1,extra\n", ":2: row: has 5 fields, want 4", 2},
		{"bad timestamp", header + "1,1,2024-13-01T00:00:00Z,1\n", `:2: ts: "2024-13-01T00:00:00Z" is not a valid timestamp`, 2},
		{"feb 30", header + "1,1,2024-02-30,1\n", `:2: ts: "2024-02-30" is not a valid timestamp`, 2},
		{"unterminated quote", header + "1,1,2024-01-01T00:00:00Z,\"1\n", ":2: row: unterminated quoted field", 2},
		{"after multi-line record", header + "\"1\n\",1,2024-01-01T00:00:00Z,1\n2,2,bad,1\n", `:4: ts: "bad"`, 4},
		{"empty order", header + "1,,2024-01-01T00:00:00Z,1\n", ":2: order_id: empty order id", 2},
		{"overflow", header + "1,1,2024-01-01T00:00:00Z,123456789012345678.9\n", "more than 18 significant digits", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "in.csv", []byte(c.data))
			_, _, err := collect(t, DefaultSource(p))
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			var re *RowError
			if !errors.As(err, &re) || re.Line != c.line || re.File != p {
				t.Errorf("error %v: want a *RowError for %s line %d", err, p, c.line)
			}
			if !strings.Contains(err.Error(), p+c.want) && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEmptyAndTruncated(t *testing.T) {
	good := []byte("user_id,order_id,ts,amount\n" + strings.Repeat("1,1,2024-01-01T00:00:00Z,1.00\n", 20000))
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrEmpty},
		{"empty gzip stream", gz(t, nil), ErrEmpty},
		{"only blank lines", []byte("\n\r\n\n"), ErrEmpty},
		{"truncated gzip", gz(t, good)[:2000], ErrTruncated},
		{"gzip header only", gz(t, good)[:5], ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "in.csv.gz", c.data)
			_, _, err := collect(t, DefaultSource(p))
			if !errors.Is(err, c.want) {
				t.Fatalf("error = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	t.Run("corrupt gzip", func(t *testing.T) {
		b := gz(t, good)
		b[len(b)/2] ^= 0xff
		_, _, err := collect(t, DefaultSource(writeFile(t, "in.csv.gz", b)))
		if err == nil {
			t.Fatal("corrupt gzip read without error")
		}
	})
	t.Run("header only", func(t *testing.T) {
		_, acc, err := collect(t, DefaultSource(writeFile(t, "in.csv", []byte("user_id,order_id,ts,amount\n"))))
		if err != nil || acc.Read != 0 {
			t.Fatalf("header-only file: %+v, %v; want no rows and no error", acc, err)
		}
	})
}

func TestGzipDetectedByMagic(t *testing.T) {
	data := []byte("user_id,order_id,ts,amount\n1,1,2024-01-01,1.5\n")
	p := writeFile(t, "no_suffix.dat", gz(t, data)) // no .gz suffix
	rows, _, err := collect(t, DefaultSource(p))
	if err != nil || len(rows) != 1 || rows[0].Cents != 150 {
		t.Fatalf("rows %+v, err %v", rows, err)
	}
}

func TestSkipPolicyWritesRejects(t *testing.T) {
	data := "user_id,order_id,ts,amount\n" +
		"1,1,2024-01-01T00:00:00Z,1.00\n" +
		"2,2,not-a-time,1.00\n" +
		",3,2024-01-01T00:00:00Z,1.00\n" +
		"3,3,2024-01-01T00:00:00Z\n" +
		"4,4,2024-01-01T00:00:00Z,abc\n" +
		"5,5,2024-01-02T00:00:00Z,2.50\n"
	src := DefaultSource(writeFile(t, "in.csv", []byte(data)))
	src.Rejects.Policy = PolicySkip
	src.Rejects.File = filepath.Join(t.TempDir(), "rejects.csv")
	rows, acc, err := collect(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := Accounting{Read: 6, Accepted: 2, NoUser: 1, Rejected: 3,
		RejectedBy: map[string]int64{"ts": 1, "row": 1, "amount": 1}, HeaderLines: 1, Bytes: int64(len(data))}
	if fmt.Sprint(acc) != fmt.Sprint(want) {
		t.Errorf("accounting = %+v\nwant %+v", acc, want)
	}
	if len(rows) != 2 || rows[1].Cents != 250 {
		t.Errorf("rows = %+v", rows)
	}
	f, err := os.Open(src.Rejects.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[1][1] != "3" || recs[1][2] != "ts" || recs[1][4] != "2,2,not-a-time,1.00" ||
		recs[2][1] != "5" || !strings.Contains(recs[2][3], "has 3 fields") {
		t.Errorf("rejects file = %q", recs)
	}
}

// bigInput builds a CSV larger than several blocks: n distinct rows, then
// the first dup rows again, and a malformed row at the end if bad is set.
func bigInput(n, dup int, bad bool) []byte {
	var b bytes.Buffer
	b.WriteString("user_id,order_id,ts,amount,channel\n")
	line := func(i int) string {
		return fmt.Sprintf("%d,%d,2024-01-%02dT10:00:00Z,%d.%02d,\"web, %d\"\n", i%1000+1, i, i%28+1, i%97, i%100, i%3)
	}
	for i := range n {
		b.WriteString(line(i))
	}
	for i := range dup {
		b.WriteString(line(i))
	}
	if bad {
		b.WriteString("1,1,2024-01-01T00:00:00Z,oops,web\n")
	}
	return b.Bytes()
}

func TestLineNumbersAndDuplicatesAcrossBlocks(t *testing.T) {
	const n, dup = 70000, 500 // ~3 MiB: several 1 MiB blocks
	data := bigInput(n, dup, true)
	if len(data) < 3*blockSize {
		t.Fatalf("input only %d bytes", len(data))
	}
	p := writeFile(t, "big.csv", data)
	_, acc, err := collect(t, DefaultSource(p))
	var re *RowError
	if !errors.As(err, &re) || re.Line != n+dup+2 || re.Field != "amount" {
		t.Fatalf("error = %v, want amount error at line %d", err, n+dup+2)
	}
	if acc.Read != n+dup {
		t.Errorf("rows read before the error = %d, want %d", acc.Read, n+dup)
	}

	src := DefaultSource(writeFile(t, "big2.csv", bigInput(n, dup, false)))
	src.Filters.DropDuplicates = true
	rows, acc, err := collect(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Read != n+dup || acc.Duplicates != dup || acc.Accepted != n || len(rows) != n {
		t.Errorf("accounting %+v, want %d read, %d duplicates", acc, n+dup, dup)
	}
	for i, r := range rows { // file order is kept
		if r.OrderKey != uint64(i) || r.Line != int64(i+2) {
			t.Fatalf("row %d: order %d line %d, want order %d line %d", i, r.OrderKey, r.Line, i, i+2)
		}
	}
}

func TestWhitespaceCRLFNoHeader(t *testing.T) {
	data := " 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n\r\n 00002 19970112  5   77.00\r\n"
	src, err := ParseSource([]byte(`
path: in.txt
format: whitespace
header: false
columns: {user: 1, timestamp: 2, quantity: 3, amount: 4}
timestamp: {layout: "20060102"}
orders: {merge_same_day: true}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src.Path = writeFile(t, "in.txt", []byte(data))
	rows, acc, err := collect(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Read != 3 || acc.BlankLines != 1 || len(rows) != 3 {
		t.Fatalf("accounting %+v", acc)
	}
	if string(rows[0].User) != "00001" || rows[0].UserIsNum || rows[0].Cents != 1177 ||
		rows[0].OrderKind != OrderDerived || rows[2].Line != 4 {
		t.Errorf("rows = %+v", rows)
	}
	if rows[1].OrderKey != rows[2].OrderKey || rows[1].OrderKey != uint64(daysFromCivil(1997, 1, 12)) {
		t.Errorf("same-day order keys %d, %d", rows[1].OrderKey, rows[2].OrderKey)
	}
}

func TestJSONLines(t *testing.T) {
	data := `{"user_id": "u1", "order_id": 7, "ts": "2024-01-01T10:00:00+02:00", "amount": 12.345, "channel": "web"}
{"user_id": null, "order_id": 8, "ts": "2024-01-01T10:00:00Z", "amount": "1"}

{"user_id": 3, "order_id": "A-9", "ts": "2024-01-02", "amount": -0.5, "inviter_id": "u1"}
`
	rows, acc, err := collect(t, DefaultSource(writeFile(t, "tx.jsonl", []byte(data))))
	if err != nil {
		t.Fatal(err)
	}
	if acc.Read != 3 || acc.NoUser != 1 || acc.BlankLines != 1 || len(rows) != 2 {
		t.Fatalf("accounting %+v", acc)
	}
	if r := rows[0]; string(r.User) != "u1" || r.Cents != 1235 || r.Unix != time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC).Unix() || string(r.Channel) != "web" {
		t.Errorf("row 1 = %+v", r)
	}
	if r := rows[1]; r.UserNum != 3 || r.OrderKind != OrderText || string(r.Order) != "A-9" || r.Cents != -50 || string(r.Inviter) != "u1" || r.Line != 4 {
		t.Errorf("row 2 = %+v", r)
	}
	_, _, err = collect(t, DefaultSource(writeFile(t, "bad.jsonl", []byte("{\"user_id\": 1\n"))))
	var re *RowError
	if !errors.As(err, &re) || re.Line != 1 {
		t.Errorf("bad JSON: error %v, want RowError at line 1", err)
	}
}

func TestCancellationsAndFilters(t *testing.T) {
	data := "inv,q,p,cust,ts\n" +
		"100,2,1.25,9,2024-01-01 10:00:00\n" +
		"C100,-1,1.25,9,2024-01-02 10:00:00\n" +
		"101,0,1.00,9,2024-01-03 10:00:00\n" +
		"102,3,0,9,2024-01-03 10:00:00\n" +
		"103,-2,0.50,9,2024-01-03 10:00:00\n" +
		"104,3,0.001,9,2024-01-03 10:00:00\n" +
		"105,-3,0.005,9,2024-01-03 10:00:00\n"
	base := `
path: in.csv
columns: {user: cust, order: inv, timestamp: ts, quantity: q, unit_price: p}
timestamp: {layout: "%%Y-%%m-%%d %%H:%%M:%%S"}
cancellations: {order_prefix: C, negative_quantity: %s, policy: %s}
filters: {drop_nonpositive_quantity: true, drop_nonpositive_price: true}
`
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "in.csv"), []byte(data), 0o644)
	t.Run("drop", func(t *testing.T) {
		src, err := ParseSource([]byte(fmt.Sprintf(base, "true", "drop")), dir)
		if err != nil {
			t.Fatal(err)
		}
		rows, acc, err := collect(t, src)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Accepted != 2 || acc.Cancelled != 3 || acc.Filtered != 2 ||
			acc.FilteredBy[ReasonNonPositiveQuantity] != 1 || acc.FilteredBy[ReasonNonPositivePrice] != 1 {
			t.Errorf("accounting %+v", acc)
		}
		// 3 × 0.001 = 0.003 → 0 cents (rounded once per line)
		if len(rows) != 2 || rows[0].Cents != 250 || rows[1].Cents != 0 {
			t.Errorf("rows %+v", rows)
		}
	})
	t.Run("net", func(t *testing.T) {
		src, err := ParseSource([]byte(fmt.Sprintf(base, "true", "net")), dir)
		if err != nil {
			t.Fatal(err)
		}
		rows, acc, err := collect(t, src)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Accepted != 5 || acc.Netted != 3 || acc.Cancelled != 0 || acc.Filtered != 2 {
			t.Errorf("accounting %+v", acc)
		}
		// C100 nets against order 100; -3 × 0.005 = -0.015 → -2 cents (half away from zero)
		if string(rows[1].Order) != "100" || rows[1].OrderKey != 100 || rows[1].Cents != -125 || !rows[1].Cancellation || rows[4].Cents != -2 {
			t.Errorf("rows %+v", rows)
		}
	})
}

func TestDecimalCents(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1", 100}, {"1.5", 150}, {"-1.5", -150}, {"+2.05", 205}, {".5", 50}, {"5.", 500},
		{"0.005", 1}, {"-0.005", -1}, {"0.0049", 0}, {"0.015", 2}, {"999999999999999.99", 99999999999999999},
		{"0001.10", 110},
	}
	for _, c := range cases {
		d, why := parseDecimal([]byte(c.in))
		got, ok := d.cents()
		if why != "" || !ok || got != c.want {
			t.Errorf("cents(%q) = %d (%q, %v), want %d", c.in, got, why, ok, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e3", "1,5", "1.2.3", " 1", "0x10", "1234567890123456789"} {
		if _, why := parseDecimal([]byte(bad)); why == "" {
			t.Errorf("parseDecimal(%q) accepted", bad)
		}
	}
	mul := []struct {
		q, p string
		want int64
	}{
		{"6", "2.55", 1530}, {"3", "0.001", 0}, {"5", "0.001", 1}, {"-5", "0.001", -1}, {"80995", "2.08", 16846960},
		{"1.5", "0.333", 50}, {"12", "0.0833333333333333", 100}, {"99999", "999999999.999999999", 9999900000000000},
	}
	for _, c := range mul {
		q, _ := parseDecimal([]byte(c.q))
		p, _ := parseDecimal([]byte(c.p))
		got, ok := mulCents(q, p)
		if !ok || got != c.want {
			t.Errorf("mulCents(%s, %s) = %d, %v; want %d", c.q, c.p, got, ok, c.want)
		}
	}
	q, _ := parseDecimal([]byte("999999999999999999"))
	if _, ok := mulCents(q, q); ok {
		t.Error("mulCents overflow not reported")
	}
}

func TestTimeParsing(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		layout string
		loc    *time.Location
		in     string
		want   time.Time
	}{
		{"", time.UTC, "2024-03-05T18:22:41Z", time.Date(2024, 3, 5, 18, 22, 41, 0, time.UTC)},
		{"", time.UTC, "2024-03-05 18:22", time.Date(2024, 3, 5, 18, 22, 0, 0, time.UTC)},
		{"", time.UTC, "2024-03-05T18:22:41.999+01:30", time.Date(2024, 3, 5, 16, 52, 41, 0, time.UTC)},
		{"", time.UTC, "2024-03-05T18:22:41-0500", time.Date(2024, 3, 5, 23, 22, 41, 0, time.UTC)},
		{"", time.UTC, "2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"", time.UTC, "1969-12-31T23:59:59Z", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"", london, "2011-06-01 12:00:00", time.Date(2011, 6, 1, 11, 0, 0, 0, time.UTC)},
		{"", london, "2011-12-01 12:00:00", time.Date(2011, 12, 1, 12, 0, 0, 0, time.UTC)},
		{"20060102", time.UTC, "19970101", time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"%d/%m/%Y %H:%M", time.UTC, "05/03/2024 18:22", time.Date(2024, 3, 5, 18, 22, 0, 0, time.UTC)},
		{"02.01.2006", london, "01.07.2020", time.Date(2020, 6, 30, 23, 0, 0, 0, time.UTC)},
		{"unix", time.UTC, "1700000000", time.Unix(1700000000, 0)},
		{"unix_ms", time.UTC, "1700000000999", time.Unix(1700000000, 0)},
	}
	for _, c := range cases {
		tp, err := newTimeParser(c.layout, c.loc)
		if err != nil {
			t.Fatalf("layout %q: %v", c.layout, err)
		}
		got, ok := tp.parse([]byte(c.in))
		if !ok || got != c.want.Unix() {
			t.Errorf("parse(%q, %q) = %v, %v; want %v", c.layout, c.in, time.Unix(got, 0).UTC(), ok, c.want.UTC())
		}
	}
	iso, _ := newTimeParser("", time.UTC)
	for _, bad := range []string{"2024-02-30", "2023-02-29", "2024-1-01", "2024-01-01X10:00", "2024-01-01T24:00:00",
		"2024-01-01T10:00:00+2", "2024-01-01T10:00:61", "", "20240101"} {
		if _, ok := iso.parse([]byte(bad)); ok {
			t.Errorf("ISO parser accepted %q", bad)
		}
	}
	if _, err := newTimeParser("%Q", time.UTC); err == nil {
		t.Error("unsupported strftime verb accepted")
	}
	if _, err := newTimeParser("dd/mm/yyyy", time.UTC); err == nil {
		t.Error("layout without a year element accepted")
	}
}

func TestSourceValidation(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "path: x\ncolumns: {user: a, timestamp: b, amount: c}\nbogus: 1\n", "field bogus not found"},
		{"unknown nested key", "path: x\ncolumns: {user: a, timestamp: b, amount: c, price: d}\n", "field price not found"},
		{"no path", "columns: {user: a, timestamp: b, amount: c}\n", "path is required"},
		{"no user", "path: x\ncolumns: {timestamp: b, amount: c}\n", "columns.user is required"},
		{"amount and price", "path: x\ncolumns: {user: a, timestamp: b, amount: c, quantity: d, unit_price: e}\n", "either columns.amount"},
		{"price without quantity", "path: x\ncolumns: {user: a, timestamp: b, unit_price: e}\n", "needs columns.quantity"},
		{"names without header", "path: x\nheader: false\ncolumns: {user: a, timestamp: 2, amount: 3}\n", "needs column positions"},
		{"jsonl position", "path: x\nformat: jsonl\ncolumns: {user: 1, timestamp: b, amount: c}\n", "named, not numbered"},
		{"bad format", "path: x\nformat: xlsx\ncolumns: {user: a, timestamp: b, amount: c}\n", "format \"xlsx\""},
		{"bad policy", "path: x\ncolumns: {user: a, timestamp: b, amount: c}\nrejects: {policy: ignore}\n", "rejects.policy"},
		{"bad zone", "path: x\ncolumns: {user: a, timestamp: b, amount: c}\ntimestamp: {timezone: Mars/Base}\n", "timezone"},
		{"prefix without order", "path: x\ncolumns: {user: a, timestamp: b, amount: c}\ncancellations: {order_prefix: C}\n", "needs columns.order"},
		{"zero position", "path: x\nheader: false\ncolumns: {user: 0, timestamp: 2, amount: 3}\n", "must be an integer >= 1"},
		{"bad calibration end", "path: x\ncolumns: {user: a, timestamp: b, amount: c}\nanalysis: {calibration_end: soon}\n", "calibration_end"},
		{"two documents", "path: x\ncolumns: {user: a, timestamp: b, amount: c}\n---\npath: y\n", "more than one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSource([]byte(c.yaml), "/base")
			if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want ErrSource containing %q", err, c.want)
			}
		})
	}
	s, err := ParseSource([]byte("path: data/x.csv\ncolumns: {user: a, timestamp: b, amount: c}\nrejects: {policy: skip, file: out/r.csv}\n"), "/base")
	if err != nil {
		t.Fatal(err)
	}
	if s.Path != "/base/data/x.csv" || s.Rejects.File != "/base/out/r.csv" || s.Format != FormatCSV || s.Delimiter != "," {
		t.Errorf("resolved source = %+v", s)
	}
}

func TestMissingHeaderColumn(t *testing.T) {
	p := writeFile(t, "in.csv", []byte("uid,order_id,ts,amount\n1,1,2024-01-01,1\n"))
	_, _, err := collect(t, DefaultSource(p))
	if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), `"user_id" is not in the header`) {
		t.Errorf("error = %v", err)
	}
}

// TestExamples loads every shipped source file and checks its data file's
// header, so the examples cannot go stale.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		s, err := LoadSource(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := s.Check(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestFnErrorStopsRead(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := DefaultSource(writeFile(t, "big.csv", bigInput(50000, 0, false))).Read(context.Background(), func(*Row) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("err %v after %d rows, want stop after 10", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := DefaultSource(writeFile(t, "big.csv", bigInput(50000, 0, false))).Read(ctx, func(*Row) error { return nil }, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: err %v", err)
	}
}

func TestProgress(t *testing.T) {
	var last Progress
	calls := 0
	_, err := DefaultSource(writeFile(t, "big.csv", bigInput(30000, 0, false))).Read(context.Background(),
		func(*Row) error { return nil }, func(p Progress) { last = p; calls++ })
	if err != nil || calls == 0 || !last.Done || last.Rows != 30000 || last.Fraction() != 1 {
		t.Errorf("progress %+v after %d calls, err %v", last, calls, err)
	}
}

func BenchmarkReadCSV(b *testing.B) {
	data := bigInput(200000, 0, false)
	p := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	src := DefaultSource(p)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := src.Read(context.Background(), func(*Row) error { return nil }, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzRead feeds arbitrary bytes through the whole reader: it must return
// rows or an error, never panic, and keep the accounting balanced.
func FuzzRead(f *testing.F) {
	f.Add([]byte("user_id,order_id,ts,amount\n1,1,2024-01-01T00:00:00Z,1.00\n"))
	f.Add([]byte("user_id,order_id,ts,amount\n\"1\n\",\"a\"\"b\",2024-01-01,-0.5\r\n,2,x,y\n"))
	f.Add([]byte("user_id,order_id,ts,amount\n1,1,2024-02-30,1e5\n2,2,2024-01-01 10:00,\"1"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in.csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		src := DefaultSource(p)
		src.Rejects.Policy = PolicySkip
		acc, err := src.Read(context.Background(), func(r *Row) error {
			if len(r.User) == 0 {
				t.Errorf("accepted row without user: %+v", r)
			}
			return nil
		}, nil)
		if err == nil && !acc.Balanced() {
			t.Errorf("unbalanced accounting %+v", acc)
		}
	})
}
