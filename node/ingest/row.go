package ingest

import "time"

// OrderKind says how Row.OrderKey was derived.
type OrderKind uint8

const (
	// OrderNumeric: the order id is a canonical integer; OrderKey is its value.
	OrderNumeric OrderKind = iota
	// OrderText: the order id is other text; OrderKey is 0, use Row.Order.
	OrderText
	// OrderDerived: there is no order id (or same-day merging is on);
	// OrderKey is the Unix second (no order column) or the local calendar
	// day number (merge_same_day) of the purchase.
	OrderDerived
)

// Row is one accepted transaction line. The byte slices are valid only until
// the callback returns; copy what you keep.
type Row struct {
	User    []byte // user id text, trimmed of surrounding spaces; never empty
	Order   []byte // order id text (prefix stripped for netted cancellations); nil if none
	Channel []byte // optional; nil if the source has no channel column
	Inviter []byte // optional; empty if none
	Unix    int64  // purchase time, seconds since the epoch (fraction floored)
	Cents   int64  // line amount in cents; negative for refunds and netted cancellations

	// UserNum is the value of User when UserIsNum: User is a canonical
	// decimal integer below 2^63 (no sign, no leading zeros).
	UserNum   uint64
	UserIsNum bool
	// OrderKey identifies the order within the user, see OrderKind.
	OrderKey  uint64
	OrderKind OrderKind
	// Cancellation is true for a cancellation kept under the net policy.
	Cancellation bool
	// Line is the 1-based line number where the record starts.
	Line int64
}

// Accounting counts what happened to every data row. Every row read lands in
// exactly one of Accepted, NoUser, Duplicates, Cancelled, Filtered and
// Rejected, checked in this order of precedence:
//
//  1. Rejected: malformed (wrong field count; or, for rows with a user id, a
//     bad timestamp, number or order id) — only under the skip policy;
//  2. NoUser: the user id is empty;
//  3. Duplicates: the raw record equals an earlier one (drop_duplicates);
//  4. Cancelled: a cancellation marker matched under the drop policy;
//  5. Filtered: a filter dropped it (FilteredBy has the reasons);
//  6. Accepted: handed to the caller.
//
// So Read == Accepted + NoUser + Duplicates + Cancelled + Filtered + Rejected.
// Blank lines and the header are not rows and are counted apart.
type Accounting struct {
	Read       int64            `json:"read"`
	Accepted   int64            `json:"accepted"`
	NoUser     int64            `json:"no_user"`
	Duplicates int64            `json:"duplicates"`
	Cancelled  int64            `json:"cancelled"`
	Filtered   int64            `json:"filtered"`
	FilteredBy map[string]int64 `json:"filtered_by,omitempty"`
	Rejected   int64            `json:"rejected"`
	RejectedBy map[string]int64 `json:"rejected_by,omitempty"` // by field
	// Netted counts accepted rows that are cancellations kept under the net
	// policy (informational, part of Accepted).
	Netted int64 `json:"netted_cancellations"`
	// BlankLines counts empty lines (not rows).
	BlankLines int64 `json:"blank_lines"`
	// HeaderLines is 1 with a header, else 0.
	HeaderLines int64 `json:"header_lines"`
	// Bytes is the number of (decompressed) bytes read.
	Bytes int64 `json:"bytes"`
}

// Balanced reports whether the categories add up to Read.
func (a Accounting) Balanced() bool {
	return a.Read == a.Accepted+a.NoUser+a.Duplicates+a.Cancelled+a.Filtered+a.Rejected
}

// Filter reasons used as FilteredBy keys.
const (
	ReasonNonPositiveQuantity = "nonpositive_quantity"
	ReasonNonPositivePrice    = "nonpositive_price"
	ReasonNonPositiveAmount   = "nonpositive_amount"
)

// Progress reports how far a read has come.
type Progress struct {
	Rows      int64         // data rows read so far
	Bytes     int64         // bytes of the file consumed so far (compressed bytes for gzip)
	Total     int64         // file size in bytes, or 0 if unknown
	Elapsed   time.Duration // since the read started
	Done      bool          // last report
	InputFile string
}

// Fraction is Bytes/Total in [0, 1], or -1 when the size is unknown.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return -1
	}
	return min(1, float64(p.Bytes)/float64(p.Total))
}

// RowsPerSecond is the average rate so far.
func (p Progress) RowsPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Rows) / p.Elapsed.Seconds()
}
