package ingest

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them; test
// with errors.Is.
var (
	// ErrSource reports an invalid source file: bad YAML, an unknown key, a
	// missing or contradictory setting, a column missing from the header.
	ErrSource = errors.New("invalid source")

	// ErrEmpty reports an input with no bytes at all (after decompression).
	ErrEmpty = errors.New("empty file")

	// ErrTruncated reports a compressed stream that ends early or is corrupt.
	ErrTruncated = errors.New("truncated or corrupt compressed stream")

	// ErrMalformed reports a data row that cannot be interpreted: wrong number
	// of fields, a bad number or timestamp, an unterminated quote. Under the
	// fail policy it stops the read; the concrete error is a *RowError.
	ErrMalformed = errors.New("malformed row")

	// ErrTooLong reports a single record longer than MaxRecordBytes.
	ErrTooLong = errors.New("record too long")
)

// MaxRecordBytes bounds one record (line, or quoted multi-line record).
const MaxRecordBytes = 16 << 20

// RowError locates a malformed row. Its message has the form
// "FILE:LINE: field: reason". It unwraps to ErrMalformed.
type RowError struct {
	File   string // path of the input file as given in the source
	Line   int64  // 1-based line number where the record starts
	Field  string // column name (header name, or "column N (role)"), or "row"
	Reason string // what is wrong, quoting the offending value
}

func (e *RowError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Reason)
}

// Unwrap returns ErrMalformed.
func (e *RowError) Unwrap() error { return ErrMalformed }
