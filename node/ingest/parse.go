package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"strconv"
)

// record status as decided by a worker.
const (
	stAccept uint8 = iota
	stNoUser
	stReject
	stCancel
	stFilter
)

// rec flags.
const (
	fUserNum uint8 = 1 << iota
	fCancel
	fHasOrder
	fHasChannel
)

// span is [start, end) in a batch's arena.
type span [2]int32

// rec is one parsed record of a batch.
type rec struct {
	unix, cents int64
	userNum     uint64
	orderKey    uint64
	h1, h2      uint64
	line        int64
	raw         [2]int32 // record bytes in the block (for rejects)
	user        span
	order       span
	channel     span
	inviter     span
	status      uint8
	reason      uint8 // filter reason (index into filterReasons)
	fault       int32 // index into batch.faults for rejects
	flags       uint8
	orderKind   OrderKind
}

// fault describes why a record was rejected.
type fault struct {
	field, reason string
}

// batch is one block of the input and its parsed records.
type batch struct {
	buf       []byte
	startLine int64
	hasQuotes bool
	eof       bool  // last block
	pos       int64 // progress position after this block
	recs      []rec
	arena     []byte
	faults    []fault
	blank     int64
	done      chan struct{}
}

var filterReasons = [...]string{ReasonNonPositiveQuantity, ReasonNonPositivePrice, ReasonNonPositiveAmount}

// plan is the resolved column layout of one read.
type plan struct {
	format         string
	delim, quote   byte
	nfields        int            // expected fields per record (delimited), 0 = jsonl
	idx            [nRoles]int    // field index by role (delimited), -1 = absent
	has            [nRoles]bool   // role present
	names          [nRoles]string // field name for error messages
	keys           [nRoles]string // jsonl keys by role
	cancelPrefix   []byte
	negQty, negAmt bool
	net            bool
	mergeDay       bool
	dedupe         bool
	dropQ, dropP   bool
	dropA          bool
	seed1, seed2   maphash.Seed
}

// role indexes into plan.names / plan.keys.
const (
	rUser = iota
	rOrder
	rTS
	rAmount
	rQty
	rPrice
	rChannel
	rInviter
	nRoles
)

// worker parses blocks. Each worker owns its scratch space.
type worker struct {
	p       *plan
	tp      timeParser
	fields  [][]byte
	scratch []byte
	jm      map[string]json.RawMessage
	jvals   [nRoles][]byte
}

func newWorker(p *plan, tp timeParser) *worker {
	return &worker{p: p, tp: tp, fields: make([][]byte, 0, 32)}
}

// parseBlock fills b.recs from b.buf.
func (w *worker) parseBlock(b *batch) {
	b.recs = b.recs[:0]
	b.arena = b.arena[:0]
	b.faults = b.faults[:0]
	b.blank = 0
	buf := b.buf
	line := b.startLine
	pos := 0
	for pos < len(buf) {
		end, nls := scanRecord(buf[pos:], w.p.delim, w.p.quote, !b.hasQuotes)
		next := 0
		if end < 0 { // last record without newline, or an unterminated quote at EOF
			end = len(buf) - pos
			next = pos + end
			nls = bytes.Count(buf[pos:], []byte{'\n'})
		} else {
			next = pos + end + 1
		}
		recBytes := buf[pos : pos+end]
		if n := len(recBytes); n > 0 && recBytes[n-1] == '\r' {
			recBytes = recBytes[:n-1]
		}
		if len(trimSpace(recBytes)) == 0 {
			b.blank++
		} else {
			b.recs = append(b.recs, rec{line: line, raw: [2]int32{int32(pos), int32(pos + len(recBytes))}})
			w.parseRecord(b, &b.recs[len(b.recs)-1], recBytes)
		}
		line += int64(1 + nls)
		pos = next
	}
}

func (w *worker) reject(b *batch, r *rec, role int, format string, args ...any) {
	field := "row"
	if role >= 0 {
		field = w.p.names[role]
	}
	r.status = stReject
	r.fault = int32(len(b.faults))
	b.faults = append(b.faults, fault{field: field, reason: fmt.Sprintf(format, args...)})
}

// put copies v into the arena.
func put(b *batch, v []byte) span {
	s := int32(len(b.arena))
	b.arena = append(b.arena, v...)
	return span{s, int32(len(b.arena))}
}

func (w *worker) get(role int) []byte {
	if w.p.format == FormatJSONL {
		return w.jvals[role]
	}
	if i := w.p.idx[role]; i >= 0 {
		return trimSpace(w.fields[i])
	}
	return nil
}

func (w *worker) parseRecord(b *batch, r *rec, recBytes []byte) {
	p := w.p
	if p.dedupe {
		r.h1 = maphash.Bytes(p.seed1, recBytes)
		r.h2 = maphash.Bytes(p.seed2, recBytes)
	}
	if p.format == FormatJSONL {
		if !w.splitJSON(b, r, recBytes) {
			return
		}
	} else {
		var why string
		if p.format == FormatWhitespace {
			w.fields = splitWhitespace(recBytes, w.fields)
		} else {
			if cap(w.scratch) < len(recBytes) {
				w.scratch = make([]byte, 0, 2*len(recBytes))
			}
			w.fields, _, why = splitDelimited(recBytes, p.delim, p.quote, w.fields, w.scratch[:0])
		}
		if why != "" {
			w.reject(b, r, -1, "%s", why)
			return
		}
		if len(w.fields) != p.nfields {
			w.reject(b, r, -1, "has %d fields, want %d", len(w.fields), p.nfields)
			return
		}
	}
	user := w.get(rUser)
	if len(user) == 0 {
		r.status = stNoUser
		return
	}
	r.user = put(b, user)
	if v, ok := parseUint(user); ok {
		r.userNum = v
		r.flags |= fUserNum
	}
	tsText := w.get(rTS)
	unix, ok := w.tp.parse(tsText)
	if !ok {
		w.reject(b, r, rTS, "%s is not a valid timestamp", strconv.Quote(string(tsText)))
		return
	}
	r.unix = unix
	cancel := false
	var order []byte
	if p.has[rOrder] {
		order = w.get(rOrder)
		if len(order) == 0 {
			w.reject(b, r, rOrder, "empty order id")
			return
		}
		if len(p.cancelPrefix) > 0 && bytes.HasPrefix(order, p.cancelPrefix) {
			cancel = true
			if p.net {
				order = order[len(p.cancelPrefix):]
				if len(order) == 0 {
					w.reject(b, r, rOrder, "order id is only the cancellation prefix")
					return
				}
			}
		}
		r.flags |= fHasOrder
	}
	// amount
	var qty decimal
	if p.has[rQty] {
		t := w.get(rQty)
		var why string
		if qty, why = parseDecimal(t); why != "" {
			w.reject(b, r, rQty, "%s: %s", strconv.Quote(string(t)), why)
			return
		}
	}
	var price decimal
	var cents int64
	if p.has[rPrice] {
		t := w.get(rPrice)
		var why string
		if price, why = parseDecimal(t); why != "" {
			w.reject(b, r, rPrice, "%s: %s", strconv.Quote(string(t)), why)
			return
		}
		if cents, ok = mulCents(qty, price); !ok {
			w.reject(b, r, rPrice, "quantity × price overflows")
			return
		}
	} else {
		t := w.get(rAmount)
		d, why := parseDecimal(t)
		if why != "" {
			w.reject(b, r, rAmount, "%s: %s", strconv.Quote(string(t)), why)
			return
		}
		if cents, ok = d.cents(); !ok {
			w.reject(b, r, rAmount, "%s: out of range", strconv.Quote(string(t)))
			return
		}
	}
	if p.negQty && qty.mant < 0 || p.negAmt && cents < 0 {
		cancel = true
	}
	r.cents = cents
	switch {
	case cancel && !p.net:
		r.status = stCancel
	case cancel:
		r.flags |= fCancel
		if r.cents > 0 {
			r.cents = -r.cents
		}
	case p.dropQ && qty.mant <= 0:
		r.status, r.reason = stFilter, 0
	case p.dropP && price.mant <= 0:
		r.status, r.reason = stFilter, 1
	case p.dropA && cents <= 0:
		r.status, r.reason = stFilter, 2
	}
	// order key
	switch {
	case p.mergeDay:
		r.orderKind = OrderDerived
		r.orderKey = uint64(localDay(unix, w.tp.loc, w.tp.utc))
	case order == nil:
		r.orderKind = OrderDerived
		r.orderKey = uint64(unix)
	default:
		if v, ok := parseUint(order); ok {
			r.orderKind = OrderNumeric
			r.orderKey = v
		} else {
			r.orderKind = OrderText
		}
	}
	if order != nil {
		r.order = put(b, order)
	}
	if p.has[rChannel] {
		r.channel = put(b, w.get(rChannel))
		r.flags |= fHasChannel
	}
	if p.has[rInviter] {
		r.inviter = put(b, w.get(rInviter))
	}
}

// splitJSON extracts the role values of one JSON Lines record into w.jvals.
func (w *worker) splitJSON(b *batch, r *rec, recBytes []byte) bool {
	if w.jm == nil {
		w.jm = make(map[string]json.RawMessage, 16)
	}
	clear(w.jm)
	if err := json.Unmarshal(recBytes, &w.jm); err != nil {
		w.reject(b, r, -1, "not a JSON object: %v", err)
		return false
	}
	for role, key := range w.p.keys {
		w.jvals[role] = nil
		if key == "" {
			continue
		}
		raw, ok := w.jm[key]
		if !ok || bytes.Equal(raw, []byte("null")) {
			continue
		}
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				w.reject(b, r, role, "bad JSON string: %v", err)
				return false
			}
			w.jvals[role] = trimSpace([]byte(s))
			continue
		}
		if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
			w.reject(b, r, role, "is a JSON %s, want a string or number", map[byte]string{'{': "object", '[': "array"}[raw[0]])
			return false
		}
		w.jvals[role] = raw
	}
	return true
}
