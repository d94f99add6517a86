package engine

import (
	"errors"
	"math"
	"runtime"
	"sync"

	"github.com/strata-fed/strata/node/ingest"
)

// userState is everything kept per user while reading: O(1) per user, plus
// one entry per distinct order in the order set.
type userState struct {
	first, last, prev int64 // Unix seconds of the first, last, second-to-last distinct purchase time (prev = noTime if none)
	cents             int64 // net spend
	firstCents        int64 // spend at the first purchase time (for Gamma-Gamma's repeat value)
	lastOrder         uint64
	orders            uint32 // distinct orders
	channels          uint32 // bit i = channel i seen (channels beyond 31 share bit 31)
	inviter           uint32 // 1 + index into Accumulator.inviters, 0 = none
}

// calState is the calibration-window part of a user, kept only when an
// explicit calibration end is set.
type calState struct {
	last   int64 // last purchase time at or before the calibration end
	orders uint32
	cents  int64 // spend at or before the calibration end
}

const noTime = math.MinInt64

// strFlag marks a user key that is an index into Accumulator.names (a
// non-numeric user id) rather than the numeric id itself.
const strFlag = 1 << 63

// Handles: a user is identified after reading by handle = local<<shardBits |
// shard.
const (
	shardBits = 4
	maxShards = 1 << shardBits
)

// op is one accepted row reduced to numbers, on its way to a shard.
type op struct {
	key      uint64 // user key (numeric id, or strFlag | name index)
	orderKey uint64
	unix     int64
	cents    int64
	inviter  uint32 // 1 + inviter index, 0 = none
	channel  uint16 // 1 + channel index (capped), 0 = none
	kind     uint8  // ingest.OrderKind
}

const opBatch = 4096

// Accumulator builds per-user state from rows. Memory grows with distinct
// users (about 100 bytes each) and distinct (user, order) pairs (8–16 bytes
// each), never with rows.
//
// Add is called from one goroutine (ingest's callback). It resolves text to
// numbers and hands each row to one of GOMAXPROCS shard goroutines, chosen
// by user, that own the per-user state; so the memory-bound part of the
// aggregation runs on all cores, and every user's rows are still applied in
// file order. Finish stops the shards; Analyze calls it. An Accumulator is
// not safe for concurrent use.
type Accumulator struct {
	calEnd int64 // Unix seconds; noTime = calibration end is the as-of
	shards []*shard
	names  []string // non-numeric user ids, by name index
	strIdx map[string]uint64
	text   map[string]uint64 // interned text order ids

	channelIdx   map[string]uint32
	channelNames []string
	inviterIdx   map[string]uint32
	inviters     []string

	minUnix, maxUnix int64
	rows             int64

	pending    [][]op
	wg         sync.WaitGroup
	finished   bool
	users      int
	orderCount int64
	handles    []uint32 // all handles, filled by Finish
}

// NewAccumulator returns an empty accumulator. With hasCalibrationEnd, it
// also tracks each user's orders, spend and last purchase at or before
// calibrationEndUnix (the CLV calibration window); otherwise the window is
// the whole input, ending at the as-of date.
func NewAccumulator(calibrationEndUnix int64, hasCalibrationEnd bool) *Accumulator {
	a := &Accumulator{
		calEnd:     noTime,
		strIdx:     map[string]uint64{},
		text:       map[string]uint64{},
		channelIdx: map[string]uint32{},
		inviterIdx: map[string]uint32{},
		minUnix:    math.MaxInt64,
		maxUnix:    math.MinInt64,
	}
	if hasCalibrationEnd {
		a.calEnd = calibrationEndUnix
	}
	n := min(max(1, runtime.GOMAXPROCS(0)), maxShards)
	a.shards = make([]*shard, n)
	a.pending = make([][]op, n)
	for i := range a.shards {
		sh := newShard(n, a.calEnd)
		a.shards[i] = sh
		a.pending[i] = make([]op, 0, opBatch)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			sh.run()
		}()
	}
	return a
}

// Users is the number of distinct users; valid after Finish.
func (a *Accumulator) Users() int { return a.users }

// Add folds one row into its user's state. It implements the callback of
// ingest.Source.Read. It must not be called after Finish.
func (a *Accumulator) Add(r *ingest.Row) error {
	if a.finished {
		return errFinished
	}
	a.rows++
	var key uint64
	if r.UserIsNum {
		key = r.UserNum
	} else {
		v, ok := a.strIdx[string(r.User)]
		if !ok {
			name := string(r.User)
			v = strFlag | uint64(len(a.names))
			a.names = append(a.names, name)
			a.strIdx[name] = v
		}
		key = v
	}
	a.minUnix = min(a.minUnix, r.Unix)
	a.maxUnix = max(a.maxUnix, r.Unix)
	o := op{key: key, orderKey: r.OrderKey, unix: r.Unix, cents: r.Cents, kind: uint8(r.OrderKind)}
	if r.OrderKind == ingest.OrderText {
		v, ok := a.text[string(r.Order)]
		if !ok {
			v = uint64(len(a.text))
			a.text[string(r.Order)] = v
		}
		o.orderKey = v
	}
	if r.Channel != nil {
		ci, ok := uint32(0), false
		for j, name := range a.channelNames[:min(len(a.channelNames), 8)] {
			if name == string(r.Channel) {
				ci, ok = uint32(j), true
				break
			}
		}
		if !ok {
			ci, ok = a.channelIdx[string(r.Channel)]
		}
		if !ok {
			ci = uint32(len(a.channelNames))
			name := string(r.Channel)
			a.channelIdx[name] = ci
			a.channelNames = append(a.channelNames, name)
		}
		o.channel = uint16(min(ci, 31) + 1)
	}
	if len(r.Inviter) > 0 {
		ii, ok := a.inviterIdx[string(r.Inviter)]
		if !ok {
			ii = uint32(len(a.inviters))
			name := string(r.Inviter)
			a.inviterIdx[name] = ii
			a.inviters = append(a.inviters, name)
		}
		o.inviter = ii + 1
	}
	s := shardOf(key, len(a.shards))
	p := append(a.pending[s], o)
	if len(p) == opBatch {
		a.pending[s] = a.shards[s].send(p)
	} else {
		a.pending[s] = p
	}
	return nil
}

var errFinished = errors.New("engine: Add after Finish")

func shardOf(key uint64, n int) int {
	if n == 1 {
		return 0
	}
	if key&strFlag == 0 {
		return int(key % uint64(n))
	}
	return int(hash64(key) % uint64(n))
}

// Finish flushes the pending rows, stops the shard goroutines and waits for
// them. It is idempotent; Analyze calls it.
func (a *Accumulator) Finish() {
	if a.finished {
		return
	}
	a.finished = true
	for i, sh := range a.shards {
		if len(a.pending[i]) > 0 {
			sh.send(a.pending[i])
		}
		close(sh.in)
	}
	a.wg.Wait()
	a.pending = nil
	for _, sh := range a.shards {
		a.users += sh.st.n
		a.orderCount += int64(sh.orders.n + len(sh.orders.wide))
		// The lookup structures are not needed after reading: release them
		// before the analysis allocates its columns.
		sh.orders = orderSet{}
		sh.dense = nil
		sh.numIdx = u64Index{}
	}
	a.handles = make([]uint32, 0, a.users)
	for s, sh := range a.shards {
		for l := range sh.st.n {
			a.handles = append(a.handles, uint32(l)<<shardBits|uint32(s))
		}
	}
}

func (a *Accumulator) user(h uint32) *userState {
	return a.shards[h&(maxShards-1)].st.at(h >> shardBits)
}

func (a *Accumulator) cal(h uint32) *calState {
	return a.shards[h&(maxShards-1)].cal.at(h >> shardBits)
}

func (a *Accumulator) key(h uint32) uint64 {
	return *a.shards[h&(maxShards-1)].keys.at(h >> shardBits)
}

// Orders is the number of distinct (user, order) pairs; valid after Finish.
func (a *Accumulator) Orders() int64 { return a.orderCount }

// shard owns the state of the users whose key maps to it.
type shard struct {
	nShards int
	calEnd  int64
	in      chan []op
	free    chan []op
	dense   []uint32 // numeric key/nShards -> 1 + local index, below denseMax
	numIdx  u64Index // other keys
	keys    paged[uint64]
	st      paged[userState]
	cal     paged[calState]
	orders  orderSet
}

func newShard(n int, calEnd int64) *shard {
	sh := &shard{nShards: n, calEnd: calEnd, in: make(chan []op, 4), free: make(chan []op, 6)}
	sh.numIdx.init(1 << 10)
	sh.orders.init(1 << 12)
	return sh
}

// send hands a full batch to the shard and returns an empty one to fill.
func (sh *shard) send(p []op) []op {
	sh.in <- p
	select {
	case q := <-sh.free:
		return q[:0]
	default:
		return make([]op, 0, opBatch)
	}
}

func (sh *shard) run() {
	for p := range sh.in {
		for i := range p {
			sh.apply(&p[i])
		}
		select {
		case sh.free <- p:
		default:
		}
	}
}

func (sh *shard) apply(o *op) {
	var idx uint32
	if k := o.key / uint64(sh.nShards); o.key&strFlag == 0 && k < denseMax {
		if k >= uint64(len(sh.dense)) {
			sh.growDense(k)
		}
		d := &sh.dense[k]
		if *d == 0 {
			*d = uint32(sh.st.n) + 1
			sh.newUser(o.key)
		}
		idx = *d - 1
	} else {
		var isNew bool
		idx, isNew = sh.numIdx.getOrInsert(o.key, uint32(sh.st.n))
		if isNew {
			sh.newUser(o.key)
		}
	}
	u := sh.st.at(idx)
	t := o.unix

	// distinct orders
	newOrder := false
	if ingest.OrderKind(o.kind) != ingest.OrderText && o.orderKey < 1<<40-1 && idx < 1<<24 {
		k := o.orderKey<<24 | uint64(idx)
		if u.lastOrder != k+1 {
			newOrder = sh.orders.insert(k)
			u.lastOrder = k + 1
		}
	} else {
		newOrder = sh.orders.insertWide(idx, o.kind, o.orderKey)
	}
	if newOrder {
		u.orders++
	}

	// purchase times: first, last, second-to-last distinct
	switch {
	case t > u.last:
		u.prev = u.last
		u.last = t
	case t < u.last && t > u.prev:
		u.prev = t
	}
	switch {
	case t < u.first:
		u.first = t
		u.firstCents = o.cents
	case t == u.first:
		u.firstCents += o.cents
	}
	u.cents += o.cents

	if sh.calEnd != noTime {
		c := sh.cal.at(idx)
		if t <= sh.calEnd {
			c.cents += o.cents
			c.last = max(c.last, t)
			if newOrder {
				c.orders++
			}
		}
	}
	if o.channel != 0 {
		u.channels |= 1 << (o.channel - 1)
	}
	if o.inviter != 0 && u.inviter == 0 {
		u.inviter = o.inviter
	}
}

// denseMax bounds the keys looked up by direct indexing (4 bytes per key up
// to the largest seen); larger keys use a hash index.
const denseMax = 1 << 24

func (sh *shard) growDense(k uint64) {
	n := max(1024, 2*len(sh.dense))
	for uint64(n) <= k {
		n *= 2
	}
	n = min(n, denseMax)
	d := make([]uint32, n)
	copy(d, sh.dense)
	sh.dense = d
}

func (sh *shard) newUser(key uint64) {
	sh.keys.append(key)
	sh.st.append(userState{first: math.MaxInt64, last: noTime, prev: noTime})
	if sh.calEnd != noTime {
		sh.cal.append(calState{last: noTime})
	}
}

// pageBits sizes the pages of per-user arrays: paging avoids the copy (and
// the transient double memory) of growing one large slice.
const pageBits = 16

// paged is an append-only array stored in fixed-size pages.
type paged[T any] struct {
	pages [][]T
	n     int
}

func (p *paged[T]) append(v T) {
	if p.n>>pageBits == len(p.pages) {
		p.pages = append(p.pages, make([]T, 1<<pageBits))
	}
	p.pages[p.n>>pageBits][p.n&(1<<pageBits-1)] = v
	p.n++
}

func (p *paged[T]) at(i uint32) *T { return &p.pages[i>>pageBits][i&(1<<pageBits-1)] }

// u64Index maps uint64 keys to uint32 values with open addressing.
type u64Index struct {
	slots []slot
	n     int
	shift uint
}

type slot struct {
	key uint64 // key+1; 0 = empty
	val uint32
}

func (m *u64Index) init(size int) {
	m.slots = make([]slot, size)
	m.n = 0
	m.shift = 64 - uint(log2(size))
}

func log2(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

func hash64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	return k
}

// getOrInsert returns the value of k, inserting v if k is absent.
func (m *u64Index) getOrInsert(k uint64, v uint32) (uint32, bool) {
	if (m.n+1)*4 > len(m.slots)*3 {
		m.grow()
	}
	mask := uint64(len(m.slots) - 1)
	kk := k + 1
	i := hash64(k) >> m.shift
	for {
		s := &m.slots[i]
		switch s.key {
		case kk:
			return s.val, false
		case 0:
			s.key = kk
			s.val = v
			m.n++
			return v, true
		}
		i = (i + 1) & mask
	}
}

func (m *u64Index) grow() {
	old := m.slots
	m.init(2 * len(old))
	for _, s := range old {
		if s.key != 0 {
			m.getOrInsert(s.key-1, s.val)
		}
	}
}

// orderSet holds distinct (user, order) pairs: packed into one uint64 when
// the order key is below 2^40 and the user index below 2^24 (the common
// case), else in a map.
type orderSet struct {
	keys  []uint64 // packed+1; 0 = empty
	n     int
	shift uint
	wide  map[[2]uint64]struct{}
}

func (s *orderSet) init(size int) {
	s.keys = make([]uint64, size)
	s.n = 0
	s.shift = 64 - uint(log2(size))
}

// insert adds a packed key and reports whether it was new.
func (s *orderSet) insert(k uint64) bool {
	if (s.n+1)*5 > len(s.keys)*4 { // load factor 0.8
		s.grow()
	}
	mask := uint64(len(s.keys) - 1)
	kk := k + 1
	i := hash64(k) >> s.shift
	for {
		switch s.keys[i] {
		case kk:
			return false
		case 0:
			s.keys[i] = kk
			s.n++
			return true
		}
		i = (i + 1) & mask
	}
}

func (s *orderSet) grow() {
	old := s.keys
	s.init(2 * len(old))
	for _, kk := range old {
		if kk != 0 {
			s.insert(kk - 1)
		}
	}
}

func (s *orderSet) insertWide(user uint32, kind uint8, key uint64) bool {
	if s.wide == nil {
		s.wide = map[[2]uint64]struct{}{}
	}
	k := [2]uint64{uint64(user) | uint64(kind)<<32, key}
	if _, ok := s.wide[k]; ok {
		return false
	}
	s.wide[k] = struct{}{}
	return true
}
