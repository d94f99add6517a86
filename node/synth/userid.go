package synth

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// idFormat accepts a prefix, one integer verb with optional flags and width,
// and a suffix; the groups are prefix, flags, width, verb, suffix.
var idFormat = regexp.MustCompile(`^([^%,"\r\n]*)%([-+ 0#]*)([0-9]*)([dxXob])([^%,"\r\n]*)$`)

// userIDs formats user numbers. The common shape, prefix + %d or %0Nd +
// suffix, is formatted on the fly (no memory traffic per row); other
// formats are formatted once into a slab.
type userIDs struct {
	fast           bool
	prefix, suffix string
	width          int
	slab           []byte
	off            []uint32 // id of user index i: slab[off[i]:off[i+1]]
}

func newUserIDs(format string, n int) (userIDs, error) {
	m := idFormat.FindStringSubmatch(format)
	if m == nil {
		return userIDs{}, fmt.Errorf("user id format %q: want a prefix, one integer verb such as %%06d, a suffix, no comma, quote or line break: %w", format, ErrInvalidConfig)
	}
	if m[4] == "d" && (m[2] == "" && m[3] == "" || m[2] == "0") {
		w, err := strconv.Atoi("0" + m[3])
		if err != nil || w > 64 {
			return userIDs{}, fmt.Errorf("user id format %q: width too large: %w", format, ErrInvalidConfig)
		}
		return userIDs{fast: true, prefix: m[1], suffix: m[5], width: w}, nil
	}
	ids := userIDs{off: make([]uint32, n+1), slab: make([]byte, 0, n*(len(format)+4))}
	for i := range n {
		ids.slab = fmt.Appendf(ids.slab, format, i+1)
		if len(ids.slab) > math.MaxUint32 {
			return userIDs{}, fmt.Errorf("user ids take more than 4 GiB: %w", ErrInvalidConfig)
		}
		ids.off[i+1] = uint32(len(ids.slab))
	}
	return ids, nil
}

// appendID appends the id of user index i (user number i+1).
func (u *userIDs) appendID(b []byte, i uint32) []byte {
	if !u.fast {
		return append(b, u.slab[u.off[i]:u.off[i+1]]...)
	}
	b = append(b, u.prefix...)
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], uint64(i)+1, 10)
	for k := len(d); k < u.width; k++ {
		b = append(b, '0')
	}
	b = append(b, d...)
	return append(b, u.suffix...)
}
