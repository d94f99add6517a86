package score

import (
	"math"
	"math/bits"
	"slices"
)

// MaxBuckets is the largest bucket count NTile and QuantileCuts accept, so that
// every score fits a uint8.
const MaxBuckets = math.MaxUint8

// NTile assigns SQL ntile(buckets) scores 1..buckets to keys, ordered ascending
// by key (descending if desc), ties broken by index ascending (callers pass
// users sorted by user id, so ties break by user id as the peers do).
//
// For n keys the first n%buckets buckets get ceil(n/buckets) members and the
// rest floor(n/buckets); when n < buckets only scores 1..n are used. Score
// `buckets` is the best (largest key, or smallest if desc).
//
// Example: keys {11, 1, 2, 56, 1, 71, 1} (recency days of users 1..7),
// desc=true, buckets=5 orders the users 6, 4, 1, 3, 2, 5, 7 and returns
// {2, 3, 2, 1, 4, 1, 5}: bucket sizes 2, 2, 1, 1, 1, and users 2, 5 and 7,
// all at 1 day, get 3, 4 and 5 by user id.
//
// NTile returns nil if buckets is outside 1..MaxBuckets, and an empty slice
// for no keys. It runs in O(n) time for keys whose range (max − min) fits in
// 64 − log2(n) bits, which covers days, counts and cents, using an LSD radix
// sort of the range's significant bits only (one pass of 11 bits for order
// counts, two for days); wider ranges fall back to an O(n log n) sort.
func NTile(keys []int64, desc bool, buckets int) []uint8 {
	if buckets < 1 || buckets > MaxBuckets {
		return nil
	}
	out := make([]uint8, len(keys))
	n := len(keys)
	if n == 0 {
		return out
	}
	assign := bucketAssigner(n, buckets)
	if order, ok := radixOrder(keys, desc); ok {
		idxMask := uint64(1)<<bits.Len(uint(n-1)) - 1
		for pos, packed := range order {
			out[packed&idxMask] = assign(pos)
		}
		return out
	}
	for pos, i := range sortedIndices(keys, desc) {
		out[i] = assign(pos)
	}
	return out
}

// bucketAssigner returns the ntile score for each 0-based position in the
// sorted order of n items.
func bucketAssigner(n, buckets int) func(pos int) uint8 {
	q, r := n/buckets, n%buckets
	big := r * (q + 1) // positions held by the r larger buckets
	return func(pos int) uint8 {
		if pos < big {
			return uint8(pos/(q+1) + 1)
		}
		return uint8(r + (pos-big)/q + 1) // pos >= big implies q > 0
	}
}

// radixDigit is the number of key bits sorted per pass: 2^11 counters fit
// in L1 and one pass covers order counts, two cover days and most cents.
const radixDigit = 11

// radixOrder returns (key − min) << idxBits | index (or (max − key) when
// desc) sorted ascending by key part, stable in index, or ok=false when the
// key range and the index do not fit in 64 bits together.
func radixOrder(keys []int64, desc bool) (order []uint64, ok bool) {
	n := len(keys)
	lo, hi := keys[0], keys[0]
	for _, k := range keys[1:] {
		lo = min(lo, k)
		hi = max(hi, k)
	}
	span := uint64(hi) - uint64(lo) // correct modulo 2^64 for any int64 pair
	keyBits := bits.Len64(span)
	idxBits := bits.Len(uint(n - 1))
	if keyBits+idxBits > 64 {
		return nil, false
	}
	src := make([]uint64, n)
	for i, k := range keys {
		var rel uint64
		if desc {
			rel = uint64(hi) - uint64(k)
		} else {
			rel = uint64(k) - uint64(lo)
		}
		src[i] = rel<<idxBits | uint64(i)
	}
	if keyBits == 0 {
		return src, true // all keys equal: index order is the answer
	}
	dst := make([]uint64, n)
	var count [1 << radixDigit]int
	for shift := idxBits; shift < idxBits+keyBits; shift += radixDigit {
		clear(count[:])
		for _, v := range src {
			count[(v>>shift)&(1<<radixDigit-1)]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, v := range src {
			d := (v >> shift) & (1<<radixDigit - 1)
			dst[count[d]] = v
			count[d]++
		}
		src, dst = dst, src
	}
	return src, true
}

// sortedIndices orders indices by (key, index), or (key desc, index) — a
// total order, so an unstable sort gives the same result as a stable one.
func sortedIndices(keys []int64, desc bool) []int {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ka, kb := keys[a], keys[b]
		switch {
		case ka == kb:
			return a - b
		case (ka < kb) != desc:
			return -1
		default:
			return 1
		}
	})
	return idx
}
