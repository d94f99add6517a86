package transport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/strata-fed/strata/protocol/internal/testfed"
	"github.com/strata-fed/strata/protocol/transport"
	"github.com/strata-fed/strata/protocol/wire"
)

const benchChunk = 1 << 20

// BenchmarkBulkStream sends b.N MiB over ONE bulk stream between two
// transports on loopback; the receiver discards the bytes.
// 256 MiB: go test ./protocol/transport -run '^$' -bench BulkStream -benchtime 256x
func BenchmarkBulkStream(b *testing.B) {
	benchBulk(b, false)
}

// BenchmarkBulkBlob is BenchmarkBulkStream with the blob framing: a
// BlobHeader, then the body verified by SHA-256 on the receiving side.
func BenchmarkBulkBlob(b *testing.B) {
	benchBulk(b, true)
}

func benchBulk(b *testing.B, blob bool) {
	fed := testfed.New(b)
	src := testfed.Listen(b, fed.Config(b, "src", nil, nil))
	dst := testfed.Listen(b, fed.Config(b, "dst", nil, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	chunk := bytes.Repeat([]byte("strata-bulk-0123"), benchChunk/16)
	total := int64(b.N) * benchChunk

	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, _, err := dst.Accept(ctx, transport.KindBulk)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		var r io.Reader = c
		if blob {
			_, body, err := wire.ReadBlobHeader(c, 0)
			if err != nil {
				done <- result{err: err}
				return
			}
			r = body
		}
		n, err := io.Copy(io.Discard, r)
		done <- result{n, err}
	}()

	b.SetBytes(benchChunk)
	b.ResetTimer()
	c, _, err := src.Open(ctx, dst.AdvertiseAddr(), transport.KindBulk)
	if err != nil {
		b.Fatal(err)
	}
	if blob {
		h := sha256.New()
		for i := 0; i < b.N; i++ {
			h.Write(chunk)
		}
		hdr := wire.BlobHeader{RoundID: 1, Kind: "bench", Length: uint64(total)}
		copy(hdr.SHA256[:], h.Sum(nil))
		if err := wire.WriteFrame(c, &hdr); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	res := <-done
	b.StopTimer()
	if res.err != nil || res.n != total {
		b.Fatalf("received %d of %d bytes: %v", res.n, total, res.err)
	}
}
