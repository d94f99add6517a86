package fedtest2

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

// TestCanaryScanner checks the canary's scanner on its own: it finds every
// form of a planted id or amount wherever it sits (in random bytes, inside
// JSON, inside base64 at any alignment, as binary numbers), finds nothing in
// random bytes, and matches decimal text only as a whole number.
func TestCanaryScanner(t *testing.T) {
	var ns canaryNeedles
	ns.addUserID("cnry5f3a9c0e71d2")
	ns.addUserID("7351904628173552")
	ns.addAmount(1734519287, "order amount")
	ns.addTime(1700000123, "order time")
	ns.addFloat(37.285714285714285, ns.value("per-user value"))
	ns.build()

	noise := make([]byte, 1<<20)
	rand.Read(noise)
	if hits := ns.scan(noise, 10); len(hits) != 0 {
		t.Fatalf("found %d needles in random bytes: %s first", len(hits), ns.what(hits[0].needle))
	}
	// Every needle, planted at a random offset, is found.
	r := mrand.New(mrand.NewPCG(1, 2))
	for i, n := range ns.list {
		buf := append([]byte(nil), noise[:4096]...)
		at := 1 + r.IntN(len(buf)-len(n.b)-2)
		if n.number {
			buf[at-1], buf[at+len(n.b)] = ',', '}' // a JSON number
		}
		copy(buf[at:], n.b)
		found := false
		for _, h := range ns.scan(buf, 100) {
			found = found || (h.needle == i && h.pos == at)
		}
		if !found {
			t.Errorf("planted %s at %d: not found", ns.what(i), at)
		}
	}
	// Re-encodings a leak could take.
	js, _ := json.Marshal(map[string]any{"user": "cnry5f3a9c0e71d2", "id": int64(7351904628173552), "amount": 17345192.87})
	for i := range 3 {
		msg := append([]byte(strings.Repeat("x", i)), "user=cnry5f3a9c0e71d2;"...)
		msg = binary.LittleEndian.AppendUint64(msg, 7351904628173552)
		msg = binary.BigEndian.AppendUint64(msg, math.Float64bits(17345192.87))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			b64 := []byte(enc.EncodeToString(msg))
			if got := len(ns.scan(b64, 100)); got < 3 {
				t.Errorf("base64 at alignment %d: %d needles found, want the id, the number and the amount", i, got)
			}
		}
	}
	if got := len(ns.scan(js, 100)); got < 3 {
		t.Errorf("JSON %s: %d needles found, want the id, the number and the amount", js, got)
	}
	// Decimal text matches whole numbers only.
	for text, want := range map[string]bool{
		`"m":1734519287,`:          true,
		`"m":1734519287.000}`:      true,
		`m=17345192.87 EUR`:        true,
		`m=17345192.870`:           true,
		`"m":-1734519287`:          true,
		`"m":11734519287,`:         false,
		`"m":17345192871,`:         false,
		`"m":1734519287.5,`:        false,
		`"m":0.1734519287,`:        false,
		`"m":1734519287e3`:         false,
		`m=17345192.875`:           false,
		`x17345192.87`:             false,
		`"t":1.7345192870000001e9`: false,
	} {
		if got := len(ns.scan([]byte(text), 10)) > 0; got != want {
			t.Errorf("%s: found %v, want %v", text, got, want)
		}
	}
}
