package wire

import (
	"encoding/binary"
	"unicode/utf8"
)

// Payload encoding primitives. See the package documentation.

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// uvarintLen is the minimal encoded length of v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// decoder reads payload fields in order. The first error sticks; later reads
// return zero values, so Parse methods read every field and check err once.
type decoder struct {
	t   Type
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// uvarint reads a minimally encoded uvarint.
func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.fail(malformed(d.t, field))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bounded reads a uvarint no larger than max.
func (d *decoder) bounded(field string, max uint64) uint64 {
	v := d.uvarint(field)
	if d.err == nil && v > max {
		d.fail(malformed(d.t, field))
		return 0
	}
	return v
}

func (d *decoder) bool(field string) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail(malformed(d.t, field))
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

// string reads a length-prefixed UTF-8 string of at most max bytes.
func (d *decoder) string(field string, max int) string {
	n := d.uvarint(field)
	if d.err != nil {
		return ""
	}
	if n > uint64(max) {
		d.fail(tooLarge(d.t, field))
		return ""
	}
	if uint64(len(d.b)) < n {
		d.fail(malformed(d.t, field))
		return ""
	}
	s := d.b[:n]
	if !utf8.Valid(s) {
		d.fail(malformed(d.t, field))
		return ""
	}
	d.b = d.b[n:]
	return string(s)
}

func (d *decoder) fixed(field string, dst []byte) {
	if d.err != nil {
		return
	}
	if len(d.b) < len(dst) {
		d.fail(malformed(d.t, field))
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

// finish reports the first error, or trailing bytes.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(malformed(d.t, "trailing bytes"))
	}
	return d.err
}

// siteID reads a site id string, validated like pki.ValidateSiteID; empty
// is accepted only if optional.
func (d *decoder) siteID(field string, optional bool) string {
	s := d.string(field, MaxSiteID)
	if d.err != nil || (optional && s == "") {
		return s
	}
	if !validSiteID(s) {
		d.fail(malformed(d.t, field))
		return ""
	}
	return s
}

// validSiteID reports whether s matches ^[a-z0-9][a-z0-9-]{0,62}$ (the
// same rule as protocol/pki, repeated so that wire depends on nothing).
func validSiteID(s string) bool {
	if len(s) == 0 || len(s) > MaxSiteID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return false
		}
	}
	return true
}
