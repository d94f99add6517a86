// Package wire defines Strata's peer-to-peer messages and their binary codec.
//
// Every message is a Go struct with a one-byte [Type] and two methods, in the
// manner of quic-go's internal/wire:
//
//	Append(b []byte) []byte // appends the encoded payload to b
//	Parse(b []byte) error   // decodes a complete payload, rejecting junk
//
// One file per message (hello.go, join.go, error.go, blob.go). To add a
// message: give it a new Type constant, a file with the struct, its Append and
// Parse, a case in [New], and a FuzzParseX target seeded with valid values.
//
// # Frame
//
// On a stream, each message travels in one frame:
//
//	+-------+---------+------+----------------+-----------------+
//	| magic | version | type | payload length | payload         |
//	| 0xA7  | 1 byte  | 1 B  | uvarint        | length bytes    |
//	+-------+---------+------+----------------+-----------------+
//
// The parts:
//
//   - magic (0xA7) catches a peer that speaks something else, or a reader that
//     lost its place in a stream;
//   - version is the codec version, [Version] (1). A frame with another
//     version is rejected ([ErrVersion]); a future version changes it only for
//     incompatible layout changes, new message types don't need a new version;
//   - type selects the message; unknown types are [ErrUnknownType];
//   - the payload length is an unsigned LEB128 varint (encoding/binary
//     Uvarint, minimally encoded), at most [MaxPayload] (64 KiB): these are
//     control messages. Bulk data does not go in frames: a [BlobHeader] frame
//     announces a body that follows as raw bytes on the same stream, checked
//     against the header's length and SHA-256 ([NewBlobReader]).
//
// # Payload primitives
//
// Payload fields are laid out in declaration order, with no padding or tags:
//
//   - unsigned integers: uvarint, minimally encoded;
//   - booleans: one byte, 0 or 1;
//   - strings: uvarint byte length followed by the bytes; every string field
//     has its own documented maximum and must be valid UTF-8;
//   - digests: 32 raw bytes.
//
// Decoding is strict and canonical: any other value, a short payload,
// trailing bytes or an over-long field is an error, so for every payload p
// that parses, Append(Parse(p)) == p. Parse never panics and never allocates
// more than the input's size.
//
// All errors from this package wrap [ErrMalformed], [ErrTooLarge],
// [ErrVersion] or [ErrUnknownType] (see [FrameError]); a receiver closes the
// offending stream, not the connection.
package wire
