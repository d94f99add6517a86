package ingest

import (
	"fmt"
	"strings"
	"time"
)

type timeKind uint8

const (
	tkISO     timeKind = iota // fast ISO-8601 family parser
	tkCompact                 // 20060102 (fast)
	tkUnix                    // seconds since the epoch
	tkUnixMS                  // milliseconds since the epoch
	tkGo                      // time.ParseInLocation with a Go layout
)

// timeParser turns timestamp text into Unix seconds (fractions floored).
// It is a value type; each worker uses its own copy (the offset cache is
// per copy).
type timeParser struct {
	kind   timeKind
	layout string
	loc    *time.Location
	utc    bool
	// one-entry cache of the zone offset for naive times: naive hour -> offset.
	cacheHour int64
	cacheOff  int64
	cacheOK   bool
}

// isoLayouts are Go layouts handled by the fast ISO parser.
var isoLayouts = map[string]bool{
	"": true, "iso8601": true, "rfc3339": true, time.RFC3339: true, time.RFC3339Nano: true,
	"2006-01-02T15:04:05Z": true, "2006-01-02T15:04:05": true, "2006-01-02 15:04:05": true,
	"2006-01-02 15:04": true, "2006-01-02T15:04": true, "2006-01-02": true,
	"2006-01-02 15:04:05Z07:00": true, "2006-01-02 15:04:05-07:00": true,
}

func newTimeParser(layout string, loc *time.Location) (timeParser, error) {
	tp := timeParser{loc: loc}
	if strings.Contains(layout, "%") {
		l, err := strftimeToGo(layout)
		if err != nil {
			return tp, err
		}
		layout = l
	}
	switch {
	case isoLayouts[layout]:
		tp.kind = tkISO
	case layout == "20060102":
		tp.kind = tkCompact
	case layout == "unix":
		tp.kind = tkUnix
	case layout == "unix_ms":
		tp.kind = tkUnixMS
	default:
		// A Go layout must at least contain a year element.
		if !strings.Contains(layout, "2006") && !strings.Contains(layout, "06") {
			return tp, fmt.Errorf("%q is not a Go layout with a year (2006), a strftime pattern, iso8601, rfc3339, unix or unix_ms", layout)
		}
		tp.kind = tkGo
		tp.layout = layout
	}
	tp.init()
	return tp, nil
}

func (tp *timeParser) init() { tp.utc = tp.loc == nil || tp.loc == time.UTC }

var strftimeMap = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'e': "_2", 'H': "15", 'I': "03", 'M': "04", 'S': "05",
	'p': "PM", 'b': "Jan", 'h': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday", 'z': "-0700", 'Z': "MST",
	'j': "002", 'f': "999999999", 'F': "2006-01-02", 'T': "15:04:05", '%': "%",
}

func strftimeToGo(f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		if i+1 >= len(f) {
			return "", fmt.Errorf("strftime pattern %q ends in %%", f)
		}
		i++
		g, ok := strftimeMap[f[i]]
		if !ok {
			return "", fmt.Errorf("strftime pattern %q: unsupported %%%c", f, f[i])
		}
		if f[i] == 'f' && b.Len() > 0 && strings.HasSuffix(b.String(), ".") {
			g = "999999999"
		}
		b.WriteString(g)
	}
	return b.String(), nil
}

// parse returns Unix seconds. ok=false means the text does not match.
func (tp *timeParser) parse(b []byte) (int64, bool) {
	switch tp.kind {
	case tkISO:
		return tp.parseISO(b)
	case tkCompact:
		if len(b) != 8 {
			return 0, false
		}
		y, ok1 := digits(b[0:4])
		mo, ok2 := digits(b[4:6])
		d, ok3 := digits(b[6:8])
		if !ok1 || !ok2 || !ok3 || !validDate(y, mo, d) {
			return 0, false
		}
		return tp.naive(daysFromCivil(y, mo, d) * 86400), true
	case tkUnix, tkUnixMS:
		neg := len(b) > 0 && b[0] == '-'
		if neg {
			b = b[1:]
		}
		if len(b) == 0 || len(b) > 18 {
			return 0, false
		}
		v, ok := digits(b)
		if !ok {
			return 0, false
		}
		if neg {
			v = -v
		}
		if tp.kind == tkUnixMS {
			v = floorDiv(v, 1000)
		}
		return v, true
	default:
		t, err := time.ParseInLocation(tp.layout, string(b), tp.loc)
		if err != nil {
			return 0, false
		}
		return t.Unix(), true
	}
}

// parseISO accepts YYYY-MM-DD, optionally followed by 'T' or ' ' and
// HH:MM[:SS[.fff…]], optionally followed by Z, ±HH:MM, ±HHMM or ±HH.
func (tp *timeParser) parseISO(b []byte) (int64, bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || !validDate(y, mo, d) {
		return 0, false
	}
	secs := daysFromCivil(y, mo, d) * 86400
	b = b[10:]
	if len(b) == 0 {
		return tp.naive(secs), true
	}
	if b[0] != 'T' && b[0] != ' ' && b[0] != 't' {
		return 0, false
	}
	b = b[1:]
	if len(b) < 5 || b[2] != ':' {
		return 0, false
	}
	h, ok1 := digits(b[0:2])
	mi, ok2 := digits(b[3:5])
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return 0, false
	}
	secs += h*3600 + mi*60
	b = b[5:]
	if len(b) >= 3 && b[0] == ':' {
		s, ok := digits(b[1:3])
		if !ok || s > 59 {
			return 0, false
		}
		secs += s
		b = b[3:]
		if len(b) > 0 && (b[0] == '.' || b[0] == ',') {
			i := 1
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				i++
			}
			if i == 1 {
				return 0, false
			}
			b = b[i:] // fraction floored away (times are whole seconds)
		}
	}
	if len(b) == 0 {
		return tp.naive(secs), true
	}
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return secs, true
	}
	if b[0] != '+' && b[0] != '-' {
		return 0, false
	}
	sign := int64(1)
	if b[0] == '-' {
		sign = -1
	}
	b = b[1:]
	var oh, om int64
	var ok bool
	switch len(b) {
	case 2:
		oh, ok = digits(b)
	case 4:
		oh, ok = digits(b[0:2])
		if ok {
			om, ok = digits(b[2:4])
		}
	case 5:
		if b[2] != ':' {
			return 0, false
		}
		oh, ok = digits(b[0:2])
		if ok {
			om, ok = digits(b[3:5])
		}
	}
	if !ok || oh > 23 || om > 59 {
		return 0, false
	}
	return secs - sign*(oh*3600+om*60), true
}

// naive converts seconds of a wall clock reading (as if UTC) to Unix
// seconds in the parser's zone.
func (tp *timeParser) naive(secs int64) int64 {
	if tp.utc {
		return secs
	}
	hour := floorDiv(secs, 3600)
	if !tp.cacheOK || tp.cacheHour != hour {
		t := time.Unix(secs, 0).UTC()
		local := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, tp.loc)
		tp.cacheOff = local.Unix() - hour*3600
		tp.cacheHour = hour
		tp.cacheOK = true
	}
	return secs + tp.cacheOff
}

// digits parses a short run of ASCII digits.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func validDate(y, m, d int64) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	dim := [13]int64{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && (y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		dim = 29
	}
	return d <= dim
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// LocalDay returns the calendar day number (days since 1970-01-01) of Unix
// time u in loc, for same-day merging.
func localDay(u int64, loc *time.Location, utc bool) int64 {
	if utc {
		return floorDiv(u, 86400)
	}
	_, off := time.Unix(u, 0).In(loc).Zone()
	return floorDiv(u+int64(off), 86400)
}
