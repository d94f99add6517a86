package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Format names accepted in Source.Format.
const (
	FormatCSV        = "csv"        // delimited text, RFC 4180 quoting (default)
	FormatTSV        = "tsv"        // csv with a tab delimiter
	FormatWhitespace = "whitespace" // fields separated by runs of spaces or tabs, no quoting (CDNOW)
	FormatJSONL      = "jsonl"      // one JSON object per line
)

// Policies.
const (
	PolicyFail = "fail" // rejects: stop at the first malformed row (default)
	PolicySkip = "skip" // rejects: count it, write it to the rejects file, go on
	PolicyDrop = "drop" // cancellations: drop the row (default)
	PolicyNet  = "net"  // cancellations: keep it as a negative amount on the original order
)

// Source describes one transaction log: where it is, how it is encoded, which
// columns hold what, and how to clean it. It is the parsed form of a strict
// YAML source file (see the package documentation for every key). The zero
// value of each field means its documented default. Create it with
// LoadSource, ParseSource or DefaultSource; a Source is not modified by Read
// and may be read several times, but not concurrently.
type Source struct {
	// Path of the data file. Relative paths are resolved against the YAML
	// file's directory. Required.
	Path string `yaml:"path"`
	// Format: csv (default), tsv, whitespace or jsonl.
	Format string `yaml:"format"`
	// Delimiter for csv: one byte, default ",". Not allowed for other formats.
	Delimiter string `yaml:"delimiter"`
	// Header says whether the first line names the columns. Default true;
	// ignored for jsonl. Without a header, columns are given by position.
	Header *bool `yaml:"header"`
	// Quote is the quote byte for csv/tsv, default `"`; "none" turns quoting
	// off (for files with bare quotes inside unquoted fields).
	Quote string `yaml:"quote"`
	// Compression: auto (default: gzip if the file starts with the gzip
	// magic bytes 1f 8b), gzip, or none.
	Compression string `yaml:"compression"`

	Columns       Columns       `yaml:"columns"`
	Timestamp     TimeSpec      `yaml:"timestamp"`
	Orders        OrderSpec     `yaml:"orders"`
	Cancellations CancelSpec    `yaml:"cancellations"`
	Filters       Filters       `yaml:"filters"`
	Rejects       RejectSpec    `yaml:"rejects"`
	Analysis      AnalysisHints `yaml:"analysis"`

	// optional lists roles that may be absent from the header (DefaultSource).
	optional map[string]bool
	// resolved settings, filled by validate.
	loc *time.Location
	tp  timeParser
}

// Column names a column by header name (a YAML string) or by 1-based
// position (a YAML integer). The zero value means "not given".
type Column struct {
	Name string
	Pos  int // 1-based; 0 = by name
}

// UnmarshalYAML accepts a string (name) or a positive integer (position).
func (c *Column) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: column must be a name or a 1-based position", n.Line)
	}
	if n.Tag == "!!int" {
		p, err := strconv.Atoi(n.Value)
		if err != nil || p < 1 {
			return fmt.Errorf("line %d: column position %q must be an integer >= 1", n.Line, n.Value)
		}
		*c = Column{Pos: p}
		return nil
	}
	if n.Value == "" {
		return fmt.Errorf("line %d: empty column name", n.Line)
	}
	*c = Column{Name: n.Value}
	return nil
}

// IsZero reports whether the column is not given.
func (c Column) IsZero() bool { return c.Name == "" && c.Pos == 0 }

func (c Column) String() string {
	if c.Pos > 0 {
		return "column " + strconv.Itoa(c.Pos)
	}
	return strconv.Quote(c.Name)
}

// Columns maps roles to columns. User and Timestamp are required, and either
// Amount or both Quantity and UnitPrice.
type Columns struct {
	User      Column `yaml:"user"`       // customer id; empty value = row without user
	Order     Column `yaml:"order"`      // order / invoice id; absent = one order per distinct timestamp
	Timestamp Column `yaml:"timestamp"`  // purchase time
	Amount    Column `yaml:"amount"`     // line amount in currency units (decimal text)
	Quantity  Column `yaml:"quantity"`   // integer or decimal quantity
	UnitPrice Column `yaml:"unit_price"` // price per unit (decimal text)
	Channel   Column `yaml:"channel"`    // optional sales channel
	Inviter   Column `yaml:"inviter"`    // optional inviter / referrer user id
}

// TimeSpec says how timestamps are written.
type TimeSpec struct {
	// Layout: "iso8601" (default: any ISO-8601 date or date-time, 'T' or
	// space, optional seconds, fraction and zone), "rfc3339", "unix",
	// "unix_ms", a Go layout ("2006-01-02 15:04:05", "20060102") or a
	// strftime pattern ("%Y-%m-%d %H:%M:%S").
	Layout string `yaml:"layout"`
	// Timezone for timestamps without an offset: an IANA name, default UTC.
	Timezone string `yaml:"timezone"`
}

// OrderSpec says what an order is.
type OrderSpec struct {
	// MergeSameDay makes an order a (user, calendar day in Timezone) pair:
	// all purchases of a user on one day count as one order, as the BTYD
	// literature does for CDNOW. The order column, if any, is then only used
	// for cancellation markers.
	MergeSameDay bool `yaml:"merge_same_day"`
}

// CancelSpec marks cancellation rows and says what to do with them.
type CancelSpec struct {
	// OrderPrefix marks rows whose order id starts with it ("C" for Online
	// Retail). Requires the order column.
	OrderPrefix string `yaml:"order_prefix"`
	// NegativeQuantity marks rows with quantity < 0. Requires the quantity column.
	NegativeQuantity bool `yaml:"negative_quantity"`
	// NegativeAmount marks rows whose line amount is < 0.
	NegativeAmount bool `yaml:"negative_amount"`
	// Policy: drop (default) counts the row as cancelled and leaves it out;
	// net keeps it with amount −|amount| on the order id without the prefix,
	// so it nets against the original order and adds no order of its own.
	Policy string `yaml:"policy"`
}

// Filters drop rows that are not cancellations. Each dropped row is counted
// under its reason.
type Filters struct {
	// DropDuplicates drops a row whose raw bytes equal an earlier row's
	// (compared by a 128-bit hash; memory ≈ 40 bytes per distinct row).
	DropDuplicates bool `yaml:"drop_duplicates"`
	// DropNonPositiveQuantity drops rows with quantity <= 0.
	DropNonPositiveQuantity bool `yaml:"drop_nonpositive_quantity"`
	// DropNonPositivePrice drops rows with unit price <= 0.
	DropNonPositivePrice bool `yaml:"drop_nonpositive_price"`
	// DropNonPositiveAmount drops rows with line amount <= 0.
	DropNonPositiveAmount bool `yaml:"drop_nonpositive_amount"`
}

// RejectSpec says what happens to malformed rows.
type RejectSpec struct {
	// Policy: fail (default) stops at the first malformed row with a
	// *RowError; skip counts it and writes it to File.
	Policy string `yaml:"policy"`
	// File receives skipped rows as CSV (line,field,reason,raw). Relative to
	// the YAML file's directory. Empty: callers choose (strata analyze uses
	// OUT/rejects.csv); if still empty, rejects are only counted.
	File string `yaml:"file"`
}

// AnalysisHints are defaults for the analysis that belong with the data set;
// command-line flags override them. Times use the ISO parser in Timezone.
type AnalysisHints struct {
	AsOf           string `yaml:"asof"`            // as-of instant; default max(ts) + 1 day
	CalibrationEnd string `yaml:"calibration_end"` // CLV calibration end (inclusive), default as-of
}

// LoadSource reads and validates a strict YAML source file. Unknown keys
// are errors; relative paths are resolved against the file's directory.
func LoadSource(path string) (*Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", path, err)
	}
	s, err := ParseSource(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", path, err)
	}
	return s, nil
}

// ParseSource parses and validates YAML source bytes; dir resolves relative
// paths.
func ParseSource(b []byte, dir string) (*Source, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Source
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty document", ErrSource)
		}
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrSource)
	}
	if s.Path != "" && !filepath.IsAbs(s.Path) {
		s.Path = filepath.Join(dir, s.Path)
	}
	if s.Rejects.File != "" && !filepath.IsAbs(s.Rejects.File) {
		s.Rejects.File = filepath.Join(dir, s.Rejects.File)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Standard column names of the no-source-file schema.
const (
	StdUser    = "user_id"
	StdOrder   = "order_id"
	StdTS      = "ts"
	StdAmount  = "amount"
	StdChannel = "channel"
	StdInviter = "inviter_id"
)

// DefaultSource describes a file in the standard schema: a header with
// user_id, order_id, ts (ISO-8601) and amount, and optionally channel and
// inviter_id. Files ending in .jsonl or .ndjson (optionally .gz) are JSON
// Lines with the same keys, .tsv files are tab-separated, anything else is
// CSV. Compression is detected. Malformed rows fail the read.
func DefaultSource(dataPath string) *Source {
	base := strings.TrimSuffix(strings.ToLower(dataPath), ".gz")
	format := FormatCSV
	switch {
	case strings.HasSuffix(base, ".jsonl"), strings.HasSuffix(base, ".ndjson"):
		format = FormatJSONL
	case strings.HasSuffix(base, ".tsv"):
		format = FormatTSV
	}
	s := &Source{
		Path:   dataPath,
		Format: format,
		Columns: Columns{
			User: Column{Name: StdUser}, Order: Column{Name: StdOrder}, Timestamp: Column{Name: StdTS},
			Amount: Column{Name: StdAmount}, Channel: Column{Name: StdChannel}, Inviter: Column{Name: StdInviter},
		},
		optional: map[string]bool{"channel": true, "inviter": true},
	}
	// validate only fills defaults here; its one possible error (an empty
	// path) is reported again by Read.
	_ = s.validate()
	return s
}

func (s *Source) header() bool { return s.Header == nil || *s.Header }

func (s *Source) delim() byte {
	switch s.Format {
	case FormatTSV:
		return '\t'
	case FormatCSV:
		return s.Delimiter[0]
	}
	return 0
}

func (s *Source) quote() byte {
	if (s.Format == FormatCSV || s.Format == FormatTSV) && s.Quote != "none" {
		return s.Quote[0]
	}
	return 0
}

// Location is the time zone for naive timestamps.
func (s *Source) Location() *time.Location { return s.loc }

// ParseTime parses an analysis hint or command-line time the way the
// source's ISO parser does, in the source's time zone (UTC if s is nil).
func ParseTime(s *Source, v string) (time.Time, error) {
	loc := time.UTC
	if s != nil && s.loc != nil {
		loc = s.loc
	}
	tp := timeParser{kind: tkISO, loc: loc}
	tp.init()
	u, ok := tp.parse([]byte(strings.TrimSpace(v)))
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not an ISO-8601 date or date-time", v)
	}
	return time.Unix(u, 0).UTC(), nil
}

func srcErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSource, fmt.Sprintf(format, args...))
}

// validate checks the settings and fills defaults.
func (s *Source) validate() error {
	s.loc = time.UTC
	s.tp = timeParser{kind: tkISO, loc: time.UTC, utc: true}
	if s.Path == "" {
		return srcErr("path is required")
	}
	if s.Format == "" {
		s.Format = FormatCSV
	}
	switch s.Format {
	case FormatCSV:
		if s.Delimiter == "" {
			s.Delimiter = ","
		}
		if len(s.Delimiter) != 1 || s.Delimiter == "\n" || s.Delimiter == "\r" || s.Delimiter == `"` {
			return srcErr("delimiter %q must be one byte other than a newline or quote", s.Delimiter)
		}
	case FormatTSV, FormatWhitespace, FormatJSONL:
		if s.Delimiter != "" {
			return srcErr("delimiter is only allowed with format csv")
		}
	default:
		return srcErr("format %q: want csv, tsv, whitespace or jsonl", s.Format)
	}
	switch {
	case s.Quote == "":
		if s.Format == FormatCSV || s.Format == FormatTSV {
			s.Quote = `"`
		}
	case s.Format != FormatCSV && s.Format != FormatTSV:
		return srcErr("quote is only allowed with csv and tsv")
	case s.Quote != "none" && (len(s.Quote) != 1 || s.Quote == "\n" || s.Quote == s.Delimiter):
		return srcErr("quote %q must be one byte (or \"none\")", s.Quote)
	}
	switch s.Compression {
	case "":
		s.Compression = "auto"
	case "auto", "gzip", "none":
	default:
		return srcErr("compression %q: want auto, gzip or none", s.Compression)
	}
	c := &s.Columns
	byName := s.Format == FormatJSONL || s.header()
	for _, rc := range s.roleColumns() {
		if rc.col.IsZero() {
			continue
		}
		if rc.col.Pos > 0 && s.Format == FormatJSONL {
			return srcErr("columns.%s: jsonl fields are named, not numbered", rc.role)
		}
		if rc.col.Name != "" && !byName {
			return srcErr("columns.%s: %s: a file without header needs column positions", rc.role, rc.col)
		}
	}
	if c.User.IsZero() {
		return srcErr("columns.user is required")
	}
	if c.Timestamp.IsZero() {
		return srcErr("columns.timestamp is required")
	}
	if c.Amount.IsZero() == c.UnitPrice.IsZero() {
		return srcErr("give either columns.amount or columns.quantity and columns.unit_price")
	}
	if !c.UnitPrice.IsZero() && c.Quantity.IsZero() {
		return srcErr("columns.unit_price needs columns.quantity")
	}
	cs := &s.Cancellations
	switch cs.Policy {
	case "":
		cs.Policy = PolicyDrop
	case PolicyDrop, PolicyNet:
	default:
		return srcErr("cancellations.policy %q: want drop or net", cs.Policy)
	}
	if cs.OrderPrefix != "" && c.Order.IsZero() {
		return srcErr("cancellations.order_prefix needs columns.order")
	}
	if (cs.NegativeQuantity || s.Filters.DropNonPositiveQuantity) && c.Quantity.IsZero() {
		return srcErr("a quantity marker or filter needs columns.quantity")
	}
	if s.Filters.DropNonPositivePrice && c.UnitPrice.IsZero() {
		return srcErr("filters.drop_nonpositive_price needs columns.unit_price")
	}
	switch s.Rejects.Policy {
	case "":
		s.Rejects.Policy = PolicyFail
	case PolicyFail, PolicySkip:
	default:
		return srcErr("rejects.policy %q: want fail or skip", s.Rejects.Policy)
	}
	if s.Timestamp.Timezone != "" && s.Timestamp.Timezone != "UTC" {
		loc, err := time.LoadLocation(s.Timestamp.Timezone)
		if err != nil {
			return srcErr("timestamp.timezone %q: %v", s.Timestamp.Timezone, err)
		}
		s.loc = loc
	}
	tp, err := newTimeParser(s.Timestamp.Layout, s.loc)
	if err != nil {
		return fmt.Errorf("%w: timestamp.layout: %w", ErrSource, err)
	}
	s.tp = tp
	for _, h := range []struct{ key, v string }{{"analysis.asof", s.Analysis.AsOf}, {"analysis.calibration_end", s.Analysis.CalibrationEnd}} {
		if h.v == "" {
			continue
		}
		if _, err := ParseTime(s, h.v); err != nil {
			return srcErr("%s: %v", h.key, err)
		}
	}
	return nil
}

type roleColumn struct {
	role string
	col  Column
}

func (s *Source) roleColumns() []roleColumn {
	c := s.Columns
	return []roleColumn{
		{"user", c.User}, {"order", c.Order}, {"timestamp", c.Timestamp}, {"amount", c.Amount},
		{"quantity", c.Quantity}, {"unit_price", c.UnitPrice}, {"channel", c.Channel}, {"inviter", c.Inviter},
	}
}
