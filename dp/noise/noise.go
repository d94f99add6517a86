package noise

import (
	"errors"
)

// Errors returned by this package. Test them with errors.Is.
var (
	// ErrInvalidParams: share or sampler parameters out of range.
	ErrInvalidParams = errors.New("invalid noise parameters")
)

// Int64Noise draws integer noise samples. Implementations need not be safe for
// concurrent use: give each goroutine its own.
type Int64Noise interface {
	// Sample returns one noise value.
	Sample() int64
}

// AddTo adds one independent sample of n to every element of v, in place.
// Callers clamp v beforehand so that v plus noise cannot overflow.
func AddTo(n Int64Noise, v []int64) {
	if f, ok := n.(interface{ AddTo([]int64) }); ok {
		f.AddTo(v)
		return
	}
	for i := range v {
		v[i] += n.Sample()
	}
}

// Zero is noise that is always 0. It is NOT private: it implements the
// federation-wide "DP off" setting used by exactness tests.
type Zero struct{}

// Sample returns 0.
func (Zero) Sample() int64 { return 0 }
