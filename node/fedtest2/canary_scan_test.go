package fedtest2

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// canaryNeedle is one byte string whose presence in a node's traffic would
// show a per-user value leaving the site.
type canaryNeedle struct {
	b []byte
	// number marks decimal text: it only matches as a whole number (no
	// digit, '.', or letter glued before it; after it at most a fraction of
	// zeros, then no digit and no exponent), so "7319427" is not found
	// inside "17319427" or "7319427.5".
	number bool
	// userID is the user id the needle encodes ("" for other values).
	userID string
	value  int32  // index of the value's description in canaryNeedles.values
	enc    string // the encoding
}

// canaryNeedles is a set of needles with a multi-pattern search: each
// needle is anchored at its most distinctive 4-byte window, looked up
// through a bit filter and a map, so a scan costs a few operations per byte
// whatever the number of needles.
type canaryNeedles struct {
	list   []canaryNeedle
	values []string // what each value is ("total of user X in cents 7319427")
	anchor map[uint32][]canaryAnchor
	filter []uint64
}

type canaryAnchor struct {
	needle int
	off    int // the anchor's offset in the needle
}

const (
	minNeedle   = 6  // shorter byte strings occur by chance in megabytes of traffic
	filterBits  = 22 // 4 Mbit filter
	filterShift = 32 - filterBits
)

func canaryFilterIndex(k uint32) uint32 { return (k * 0x9E3779B1) >> filterShift }

// what describes needle i: the value and its encoding.
func (ns *canaryNeedles) what(i int) string {
	n := &ns.list[i]
	return ns.values[n.value] + " as " + n.enc
}

// value starts the needles of a new value and returns its index.
func (ns *canaryNeedles) value(what string) int32 {
	ns.values = append(ns.values, what)
	return int32(len(ns.values) - 1)
}

func (ns *canaryNeedles) add(b []byte, number bool, v int32, enc string) {
	if len(b) < minNeedle {
		panic(fmt.Sprintf("needle %q (%s as %s) shorter than %d bytes", b, ns.values[v], enc, minNeedle))
	}
	ns.list = append(ns.list, canaryNeedle{b: b, number: number, value: v, enc: enc})
}

// build indexes the needles; call it after the last add.
func (ns *canaryNeedles) build() {
	ns.anchor = make(map[uint32][]canaryAnchor, len(ns.list))
	ns.filter = make([]uint64, 1<<filterBits/64)
	for i, n := range ns.list {
		// The window with the most non-zero bytes that differ from the
		// byte before them.
		b := n.b
		score := func(j int) int {
			if b[j] != 0 && (j == 0 || b[j] != b[j-1]) {
				return 1
			}
			return 0
		}
		cur := score(0) + score(1) + score(2) + score(3)
		best, bestScore := 0, cur
		for off := 1; off+4 <= len(b); off++ {
			cur += score(off+3) - score(off-1)
			if cur > bestScore {
				best, bestScore = off, cur
			}
		}
		k := binary.LittleEndian.Uint32(b[best:])
		ns.anchor[k] = append(ns.anchor[k], canaryAnchor{i, best})
		f := canaryFilterIndex(k)
		ns.filter[f/64] |= 1 << (f % 64)
	}
}

// canaryHit is a needle found in recorded traffic.
type canaryHit struct {
	needle int
	pos    int
}

// scan returns every needle occurrence in data (at most limit).
func (ns *canaryNeedles) scan(data []byte, limit int) []canaryHit {
	var out []canaryHit
	for i := 0; i+4 <= len(data); i++ {
		k := binary.LittleEndian.Uint32(data[i:])
		f := canaryFilterIndex(k)
		if ns.filter[f/64]&(1<<(f%64)) == 0 {
			continue
		}
		for _, a := range ns.anchor[k] {
			n := &ns.list[a.needle]
			start := i - a.off
			if start < 0 || start+len(n.b) > len(data) || string(data[start:start+len(n.b)]) != string(n.b) {
				continue
			}
			if n.number && !canaryWholeNumber(data, start, start+len(n.b), n.b) {
				continue
			}
			out = append(out, canaryHit{a.needle, start})
			if len(out) >= limit {
				return out
			}
		}
	}
	return out
}

func canaryDigit(c byte) bool  { return '0' <= c && c <= '9' }
func canaryLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// canaryWholeNumber reports whether the decimal text data[start:end] (== num) is
// a whole number token: see needle.number.
func canaryWholeNumber(data []byte, start, end int, num []byte) bool {
	if start > 0 {
		if c := data[start-1]; canaryDigit(c) || c == '.' || canaryLetter(c) {
			return false
		}
	}
	i := end
	if i < len(data) && data[i] == '.' && !strings.Contains(string(num), ".") {
		i++ // an integer printed with a fraction: only zeros may follow
	}
	if strings.Contains(string(num), ".") || (end < len(data) && data[end] == '.') {
		for i < len(data) && data[i] == '0' {
			i++
		}
	}
	if i < len(data) && (canaryDigit(data[i]) || data[i] == 'e' || data[i] == 'E') {
		return false
	}
	return true
}

// addText adds s and its usual re-encodings: upper case, hex of its bytes,
// UTF-16LE, and base64 (standard and URL alphabets) at each of the three
// alignments it could have inside a longer encoded string.
func (ns *canaryNeedles) addText(s string, v int32) {
	ns.add([]byte(s), false, v, "text")
	if u := strings.ToUpper(s); u != s {
		ns.add([]byte(u), false, v, "upper-case text")
	}
	ns.add([]byte(hex.EncodeToString([]byte(s))), false, v, "hex of its text")
	var u16 []byte
	for _, r := range utf16.Encode([]rune(s)) {
		u16 = binary.LittleEndian.AppendUint16(u16, r)
	}
	ns.add(u16, false, v, "UTF-16LE")
	ns.addBase64([]byte(s), v, "text")
}

var canaryBase64Enc = [3][2]string{
	{"base64 of its %s at alignment 0", "base64url of its %s at alignment 0"},
	{"base64 of its %s at alignment 1", "base64url of its %s at alignment 1"},
	{"base64 of its %s at alignment 2", "base64url of its %s at alignment 2"},
}

// addBase64 adds the base64 of b (encoded as enc) as it appears when b
// starts at any byte offset of a longer base64-encoded message: only the
// characters that depend on b's bytes alone; the URL alphabet only where it
// differs.
func (ns *canaryNeedles) addBase64(b []byte, v int32, enc string) {
	for shift := range 3 {
		in := append(make([]byte, shift), b...)
		first := (8*shift + 5) / 6         // first character whose bits all come from b
		last := (8 * (shift + len(b))) / 6 // one past the last such character
		if last-first < minNeedle {
			continue
		}
		std := base64.RawStdEncoding.EncodeToString(in)[first:last]
		ns.add([]byte(std), false, v, strings.Replace(canaryBase64Enc[shift][0], "%s", enc, 1))
		if url := base64.RawURLEncoding.EncodeToString(in)[first:last]; url != std {
			ns.add([]byte(url), false, v, strings.Replace(canaryBase64Enc[shift][1], "%s", enc, 1))
		}
	}
}

// addBinary adds the bytes of a binary encoding and, if full, the same
// bytes as hex text and in base64 (a binary field of a JSON message is
// base64).
func (ns *canaryNeedles) addBinary(b []byte, v int32, enc string, full bool) {
	ns.add(b, false, v, enc)
	if full {
		ns.add([]byte(hex.EncodeToString(b)), false, v, "hex of its "+enc)
		ns.addBase64(b, v, enc)
	}
}

// addInt adds an integer value in binary: 64-bit little- and big-endian
// (raw and, if full, hex and base64), unsigned and zig-zag varints (raw);
// and, if withText, as decimal text.
func (ns *canaryNeedles) addInt(x int64, v int32, withText, full bool) {
	ns.addBinary(binary.LittleEndian.AppendUint64(nil, uint64(x)), v, "int64 LE", full)
	ns.addBinary(binary.BigEndian.AppendUint64(nil, uint64(x)), v, "int64 BE", full)
	if b := binary.AppendUvarint(nil, uint64(x)); len(b) >= minNeedle {
		ns.add(b, false, v, "uvarint")
	}
	if b := binary.AppendVarint(nil, x); len(b) >= minNeedle {
		ns.add(b, false, v, "varint")
	}
	if withText {
		if s := strconv.FormatInt(x, 10); len(s) >= minNeedle {
			ns.add([]byte(s), true, v, "decimal text")
		}
	}
}

// addFloat adds a float64 value as IEEE 754 LE and BE (raw, hex and
// base64), and as its shortest decimal text and exponent form (when long
// enough).
func (ns *canaryNeedles) addFloat(x float64, v int32) {
	bits := math.Float64bits(x)
	ns.addBinary(binary.LittleEndian.AppendUint64(nil, bits), v, "float64 LE", true)
	ns.addBinary(binary.BigEndian.AppendUint64(nil, bits), v, "float64 BE", true)
	if s := strconv.FormatFloat(x, 'f', -1, 64); len(s) >= minNeedle {
		ns.add([]byte(s), true, v, "decimal text")
	}
	if s := strconv.FormatFloat(x, 'e', -1, 64); len(s) >= minNeedle && !strings.HasSuffix(s, "e+00") {
		ns.add([]byte(s), true, v, "exponent text")
	}
}

// addAmount adds an amount of money in every form a leak could take:
// cents and currency units as integers, text and floats.
func (ns *canaryNeedles) addAmount(cents int64, what string) {
	v := ns.value(what + " in cents " + strconv.FormatInt(cents, 10))
	ns.addInt(cents, v, true, true)
	ns.add([]byte(centsText(cents)), true, v, "currency text")
	ns.addFloat(float64(cents), v)
	ns.addFloat(float64(cents)/100, ns.value(what+" in currency units "+centsText(cents)))
}

// addTime adds an instant as Unix seconds (binary, hex, base64, text),
// milliseconds and nanoseconds (binary, text), RFC 3339 and SQL text
// (without zone, so any zone suffix matches), and time.Time's binary
// encoding of its seconds.
func (ns *canaryNeedles) addTime(unix int64, what string) {
	ts := time.Unix(unix, 0).UTC()
	what += " " + ts.Format(time.RFC3339)
	ns.addInt(unix, ns.value(what+" in Unix seconds"), true, true)
	ns.addInt(unix*1000, ns.value(what+" in Unix milliseconds"), true, false)
	ns.addInt(unix*1e9, ns.value(what+" in Unix nanoseconds"), true, false)
	v := ns.value(what)
	ns.add([]byte(ts.Format("2006-01-02T15:04:05")), false, v, "RFC 3339 text")
	ns.add([]byte(ts.Format("2006-01-02 15:04:05")), false, v, "SQL text")
	// time.Time.MarshalBinary (and gob) carries seconds since year 1, BE.
	ns.addBinary(binary.BigEndian.AppendUint64(nil, uint64(unix+62135596800)), v, "time.Time binary seconds", true)
}

// addUserID adds a user id: its text forms, its SHA-256 and MD5 (raw, hex,
// base64: a hashed id is still linkable), and, for a numeric id, the forms
// of the number.
func (ns *canaryNeedles) addUserID(id string) {
	first := len(ns.list)
	v := ns.value("user id " + id)
	ns.addText(id, v)
	sha := sha256.Sum256([]byte(id))
	ns.addBinary(sha[:], v, "SHA-256", true)
	md := md5.Sum([]byte(id))
	ns.addBinary(md[:], v, "MD5", true)
	if x, err := strconv.ParseInt(id, 10, 64); err == nil {
		ns.addInt(x, v, false, true)
		ns.addFloat(float64(x), v)
	}
	for i := first; i < len(ns.list); i++ {
		ns.list[i].userID = id
	}
}
