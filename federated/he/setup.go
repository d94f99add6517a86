package he

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/mhe"
)

// MinSeedLen is the minimum length of the common random seed of a set-up.
const MinSeedLen = 32

// Setup is what every participant of a key set-up must agree on (through the
// log) before the first step: parameters, the ordered participant list, the
// threshold t and the common random seed. It is immutable and safe for
// concurrent use.
//
// Participant i (0-based, in list order) has the Shamir point i+1: points are
// non-zero and distinct by construction, and every party derives the same
// ones from the same list.
type Setup struct {
	params       *Parameters
	participants []string
	index        map[string]int
	threshold    int
	seed         []byte
	digest       [32]byte
}

// NewSetup validates and freezes a set-up. participants are site IDs
// (non-empty, distinct, at most 255 bytes, 1..MaxParties of them), 1 ≤
// threshold ≤ len(participants), and seed is at least MinSeedLen bytes drawn
// from a cryptographic source and agreed in the log.
func NewSetup(params *Parameters, participants []string, threshold int, seed []byte) (*Setup, error) {
	if params == nil {
		return nil, fmt.Errorf("nil parameters: %w", ErrSetup)
	}
	n := len(participants)
	if n < 1 || n > MaxParties {
		return nil, fmt.Errorf("%d participants, want 1..%d: %w", n, MaxParties, ErrSetup)
	}
	if threshold < 1 || threshold > n {
		return nil, fmt.Errorf("threshold %d, want 1..%d: %w", threshold, n, ErrSetup)
	}
	if len(seed) < MinSeedLen {
		return nil, fmt.Errorf("seed of %d bytes, want at least %d: %w", len(seed), MinSeedLen, ErrSetup)
	}
	s := &Setup{
		params:       params,
		participants: append([]string(nil), participants...),
		index:        make(map[string]int, n),
		threshold:    threshold,
		seed:         append([]byte(nil), seed...),
	}
	for i, id := range s.participants {
		if id == "" || len(id) > 255 {
			return nil, fmt.Errorf("participant %d: id %q must be 1..255 bytes: %w", i, id, ErrSetup)
		}
		if _, dup := s.index[id]; dup {
			return nil, fmt.Errorf("participant %q listed twice: %w", id, ErrSetup)
		}
		s.index[id] = i
	}
	h := sha256.New()
	h.Write([]byte("strata/he/setup/v1"))
	id := params.ID()
	h.Write(id[:])
	h.Write(binary.LittleEndian.AppendUint32(nil, uint32(threshold)))
	writeList(h, s.participants)
	h.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(seed))))
	h.Write(seed)
	copy(s.digest[:], h.Sum(nil))
	return s, nil
}

func writeList(h interface{ Write([]byte) (int, error) }, ids []string) {
	h.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(ids))))
	for _, id := range ids {
		h.Write([]byte{byte(len(id))})
		h.Write([]byte(id))
	}
}

// Params returns the set-up's parameters.
func (s *Setup) Params() *Parameters { return s.params }

// Participants returns a copy of the ordered participant list.
func (s *Setup) Participants() []string { return append([]string(nil), s.participants...) }

// Threshold returns t: any t participants can decrypt, fewer learn nothing.
func (s *Setup) Threshold() int { return s.threshold }

// Digest identifies the set-up; every key-set-up object carries it.
func (s *Setup) Digest() [32]byte { return s.digest }

// Point returns the participant's Shamir public point.
func (s *Setup) Point(site string) (mhe.ShamirPublicPoint, error) {
	i, ok := s.index[site]
	if !ok {
		return 0, fmt.Errorf("site %q is not a participant: %w", site, ErrSetup)
	}
	return mhe.ShamirPublicPoint(i + 1), nil
}

func (s *Setup) points() []mhe.ShamirPublicPoint {
	pts := make([]mhe.ShamirPublicPoint, len(s.participants))
	for i := range pts {
		pts[i] = mhe.ShamirPublicPoint(i + 1)
	}
	return pts
}

// decryptors validates an ordered decryptor list (exactly t distinct
// participants) and returns its Shamir points and its digest.
func (s *Setup) decryptors(list []string) ([]mhe.ShamirPublicPoint, [32]byte, error) {
	if len(list) != s.threshold {
		return nil, [32]byte{}, fmt.Errorf("decryptor list of %d sites, want exactly t = %d: %w", len(list), s.threshold, ErrMismatch)
	}
	pts := make([]mhe.ShamirPublicPoint, len(list))
	seen := make(map[string]bool, len(list))
	for i, id := range list {
		if seen[id] {
			return nil, [32]byte{}, fmt.Errorf("decryptor %q listed twice: %w", id, ErrMismatch)
		}
		seen[id] = true
		pt, err := s.Point(id)
		if err != nil {
			return nil, [32]byte{}, fmt.Errorf("decryptor list: %w", err)
		}
		pts[i] = pt
	}
	return pts, DecryptorsDigest(s, list), nil
}

// DecryptorsDigest identifies an ordered decryptor list within a set-up.
// Every decryption share carries it; the list order matters (it fixes the
// Lagrange combination), so the list must be fixed in the log before any
// decryptor produces a share.
func DecryptorsDigest(s *Setup, list []string) [32]byte {
	h := sha256.New()
	h.Write([]byte("strata/he/decryptors/v1"))
	h.Write(s.digest[:])
	writeList(h, list)
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}
