package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// blockSize is the unit of parallel parsing.
const blockSize = 1 << 20

// progressEvery throttles progress callbacks.
const progressEvery = 250 * time.Millisecond

// Read streams the source's data rows, calling fn once per accepted row, in
// file order, from a single goroutine (the caller's). Parsing runs on
// GOMAXPROCS worker goroutines over 1 MiB blocks; all of them have stopped
// when Read returns. Memory is bounded by a few blocks in flight, plus the
// duplicate-row set when drop_duplicates is on.
//
// progress, if not nil, is called from the same goroutine at most every
// 250 ms and once at the end (Done set).
//
// Under the fail policy, the first malformed row stops the read with a
// *RowError ("FILE:LINE: field: reason", wrapping ErrMalformed); under skip
// it is counted and written to Rejects.File. An error from fn stops the read
// and is returned as is. A nil fn only checks the header (see Check). The Accounting returned reflects the rows handled
// up to the point of return.
func (s *Source) Read(ctx context.Context, fn func(*Row) error, progress func(Progress)) (Accounting, error) {
	var acc Accounting
	if s.loc == nil { // a Source literal: validate and fill defaults first
		if err := s.validate(); err != nil {
			return acc, err
		}
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return acc, fmt.Errorf("open data: %w", err)
	}
	defer f.Close()
	var total int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		total = st.Size()
	}
	cr := &countingReader{r: f}
	br := bufio.NewReaderSize(cr, 64<<10)
	var in io.Reader = br
	gz := false
	switch s.Compression {
	case "gzip":
		gz = true
	case "auto":
		magic, _ := br.Peek(2)
		gz = len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	}
	name := s.Path
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return acc, fmt.Errorf("%s: %w", name, ErrEmpty)
			}
			return acc, fmt.Errorf("%s: gzip header: %w: %w", name, ErrTruncated, err)
		}
		defer zr.Close()
		in = zr
	}
	r := &reader{s: s, name: name, in: in, gz: gz, cr: cr}
	if fn == nil { // Check: header only
		return acc, r.checkHeader()
	}
	return r.run(ctx, fn, progress, total)
}

// Check opens the data file and checks that its header (or first record)
// matches the source's columns, without reading the rows.
func (s *Source) Check() error {
	_, err := s.Read(context.Background(), nil, nil)
	return err
}

func (r *reader) checkHeader() error {
	buf := make([]byte, blockSize)
	n, eof, err := r.fill(buf, 0)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", r.name, ErrEmpty)
	}
	data := bytes.TrimPrefix(buf[:n], []byte("\xef\xbb\xbf"))
	r.line = 1
	var acc Accounting
	return r.resolve(&data, &acc, eof)
}

type countingReader struct {
	r  io.Reader
	n  int64
	mu sync.Mutex
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *countingReader) pos() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

type reader struct {
	s     *Source
	name  string
	in    io.Reader
	gz    bool
	cr    *countingReader
	bytes int64 // decompressed bytes read
	line  int64 // 1-based line number of the next unread line
	plan  plan
}

// fill reads into buf[n:] until it is full or the input ends.
func (r *reader) fill(buf []byte, n int) (int, bool, error) {
	for n < len(buf) {
		m, err := r.in.Read(buf[n:])
		n += m
		r.bytes += int64(m)
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		if err != nil {
			if r.gz {
				return n, false, fmt.Errorf("%s: after %d decompressed bytes (line %d): %w: %w", r.name, r.bytes, r.line, ErrTruncated, err)
			}
			return n, false, fmt.Errorf("%s: read: %w", r.name, err)
		}
	}
	return n, false, nil
}

func (r *reader) run(ctx context.Context, fn func(*Row) error, progress func(Progress), total int64) (Accounting, error) {
	start := time.Now()
	var acc Accounting
	buf := make([]byte, blockSize)
	n, eof, err := r.fill(buf, 0)
	if err != nil {
		return acc, err
	}
	if n == 0 {
		return acc, fmt.Errorf("%s: %w", r.name, ErrEmpty)
	}
	data := buf[:n]
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r.line = 1
	if err := r.resolve(&data, &acc, eof); err != nil {
		return acc, err
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nw := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *batch, nw)
	ordered := make(chan *batch, nw+1)
	free := make(chan *batch, 2*nw+2)
	var readErr error
	var wg sync.WaitGroup

	wg.Add(1)
	go func() { // reader: cut the input into blocks of whole records
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		carry := append([]byte(nil), data...)
		for {
			var b *batch
			select {
			case b = <-free:
			default:
				b = &batch{buf: make([]byte, blockSize)}
			}
			if cap(b.buf) < len(carry)+blockSize/2 {
				b.buf = make([]byte, len(carry)+blockSize)
			}
			blk := b.buf[:cap(b.buf)]
			n := copy(blk, carry)
			if !eof {
				var err error
				n, eof, err = r.fill(blk, n)
				if err != nil {
					readErr = err
					return
				}
			}
			cut, hasQ := cutBlock(blk[:n], r.plan.delim, r.plan.quote)
			if eof {
				cut = n
			}
			if cut == 0 && !eof {
				if n >= MaxRecordBytes {
					readErr = fmt.Errorf("%s:%d: %w (over %d bytes; unterminated quote?)", r.name, r.line, ErrTooLong, MaxRecordBytes)
					return
				}
				carry = append(carry[:0], blk[:n]...)
				select {
				case free <- b:
				default:
				}
				continue
			}
			b.buf, b.startLine, b.hasQuotes, b.eof, b.done = blk[:cut], r.line, hasQ, eof, make(chan struct{})
			r.line += int64(bytes.Count(blk[:cut], []byte{'\n'}))
			b.pos = r.cr.pos()
			carry = append(carry[:0], blk[cut:n]...)
			select {
			case ordered <- b:
			case <-ctx.Done():
				return
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
			if eof {
				return
			}
		}
	}()
	for i := 0; i < nw; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(&r.plan, r.s.tp)
			for b := range work {
				if ctx.Err() == nil {
					w.parseBlock(b)
				}
				close(b.done)
			}
		}()
	}

	c := consumer{r: r, acc: &acc, fn: fn}
	if r.plan.dedupe {
		c.seen = make(map[[2]uint64]struct{}, 1<<16)
	}
	defer c.closeRejects()
	var cerr error
	lastProgress := start
	for b := range ordered {
		select {
		case <-b.done:
		case <-ctx.Done():
		}
		if cerr == nil {
			if err := ctx.Err(); err != nil {
				cerr = err
			} else {
				cerr = c.consume(b)
			}
			if cerr != nil {
				cancel()
			}
		}
		if progress != nil && cerr == nil {
			if now := time.Now(); now.Sub(lastProgress) >= progressEvery {
				lastProgress = now
				progress(Progress{Rows: acc.Read, Bytes: b.pos, Total: total, Elapsed: now.Sub(start), InputFile: r.name})
			}
		}
		select {
		case free <- b:
		default:
		}
	}
	// Drain: the reader closed ordered; wait for the workers.
	cancel()
	wg.Wait()
	acc.Bytes = r.bytes
	if cerr == nil {
		cerr = readErr
	}
	if cerr == nil {
		cerr = parent.Err()
	}
	if cerr == nil {
		cerr = c.closeRejects()
	}
	if progress != nil && cerr == nil {
		progress(Progress{Rows: acc.Read, Bytes: r.cr.pos(), Total: total, Elapsed: time.Since(start), Done: true, InputFile: r.name})
	}
	return acc, cerr
}

// resolve reads the header (or the first record) from data, builds the
// plan, and advances data past the header.
func (r *reader) resolve(data *[]byte, acc *Accounting, eof bool) error {
	s := r.s
	p := &r.plan
	p.format = s.Format
	p.delim = s.delim()
	p.quote = s.quote()
	for i := range p.idx {
		p.idx[i] = -1
	}
	p.cancelPrefix = []byte(s.Cancellations.OrderPrefix)
	p.negQty = s.Cancellations.NegativeQuantity
	p.negAmt = s.Cancellations.NegativeAmount
	p.net = s.Cancellations.Policy == PolicyNet
	p.mergeDay = s.Orders.MergeSameDay
	p.dedupe = s.Filters.DropDuplicates
	p.dropQ = s.Filters.DropNonPositiveQuantity
	p.dropP = s.Filters.DropNonPositivePrice
	p.dropA = s.Filters.DropNonPositiveAmount
	p.seed1, p.seed2 = maphash.MakeSeed(), maphash.MakeSeed()
	roles := s.roleColumns()

	if p.format == FormatJSONL {
		for i, rc := range roles {
			if !rc.col.IsZero() {
				p.keys[i] = rc.col.Name
				p.names[i] = rc.col.Name
				p.has[i] = true
			}
		}
		return nil
	}
	// first record (skip leading blank lines)
	var fields [][]byte
	for {
		end, nls := scanRecord(*data, p.delim, p.quote, false)
		if end < 0 && !eof {
			return fmt.Errorf("%s:%d: %w: first record longer than %d bytes", r.name, r.line, ErrTooLong, blockSize)
		}
		if end < 0 {
			end = len(*data)
		}
		line := bytes.TrimSuffix((*data)[:end], []byte{'\r'})
		if len(trimSpace(line)) == 0 {
			if end == len(*data) {
				if s.header() {
					return fmt.Errorf("%s: %w: no header line", r.name, ErrEmpty)
				}
				return nil // only blank lines: nothing to read
			}
			acc.BlankLines++
			r.line += int64(1 + nls)
			*data = (*data)[end+1:]
			continue
		}
		var why string
		if p.format == FormatWhitespace {
			fields = splitWhitespace(line, nil)
		} else {
			fields, _, why = splitDelimited(line, p.delim, p.quote, nil, make([]byte, 0, len(line)))
		}
		if why != "" {
			return &RowError{File: r.name, Line: r.line, Field: "row", Reason: why}
		}
		if s.header() {
			acc.HeaderLines = 1
			r.line += int64(1 + nls)
			if end < len(*data) {
				*data = (*data)[end+1:]
			} else {
				*data = (*data)[end:]
			}
		}
		break
	}
	p.nfields = len(fields)
	header := map[string]int{}
	var names []string
	if s.header() {
		for i, f := range fields {
			name := string(trimSpace(f))
			names = append(names, name)
			if _, dup := header[name]; !dup {
				header[name] = i
			}
		}
	}
	for i, rc := range roles {
		c := rc.col
		switch {
		case c.IsZero():
			continue
		case c.Pos > 0:
			if c.Pos > p.nfields {
				return fmt.Errorf("%w: columns.%s: column %d, but the first record of %s has %d fields", ErrSource, rc.role, c.Pos, r.name, p.nfields)
			}
			p.idx[i] = c.Pos - 1
			if names != nil {
				p.names[i] = names[c.Pos-1]
			} else {
				p.names[i] = "column " + strconv.Itoa(c.Pos) + " (" + rc.role + ")"
			}
		default:
			j, ok := header[c.Name]
			if !ok {
				if s.optional[rc.role] {
					continue
				}
				return fmt.Errorf("%w: columns.%s: %q is not in the header of %s (columns: %q)", ErrSource, rc.role, c.Name, r.name, names)
			}
			p.idx[i] = j
			p.names[i] = c.Name
		}
		p.has[i] = true
	}
	return nil
}

// consumer applies the order-dependent steps (duplicates, accounting,
// rejects, the callback) to parsed batches in file order.
type consumer struct {
	r       *reader
	acc     *Accounting
	fn      func(*Row) error
	seen    map[[2]uint64]struct{}
	row     Row
	rejF    *os.File
	rejW    *csv.Writer
	rejOpen bool
}

func (c *consumer) consume(b *batch) error {
	acc := c.acc
	acc.BlankLines += b.blank
	p := &c.r.plan
	for i := range b.recs {
		rc := &b.recs[i]
		acc.Read++
		switch rc.status {
		case stReject:
			f := b.faults[rc.fault]
			if c.r.s.Rejects.Policy == PolicyFail {
				acc.Read--
				return &RowError{File: c.r.name, Line: rc.line, Field: f.field, Reason: f.reason}
			}
			acc.Rejected++
			if acc.RejectedBy == nil {
				acc.RejectedBy = map[string]int64{}
			}
			acc.RejectedBy[f.field]++
			if err := c.writeReject(rc.line, f, b.buf[rc.raw[0]:rc.raw[1]]); err != nil {
				return err
			}
			continue
		case stNoUser:
			acc.NoUser++
			continue
		}
		if p.dedupe {
			k := [2]uint64{rc.h1, rc.h2}
			if _, dup := c.seen[k]; dup {
				acc.Duplicates++
				continue
			}
			c.seen[k] = struct{}{}
		}
		switch rc.status {
		case stCancel:
			acc.Cancelled++
			continue
		case stFilter:
			acc.Filtered++
			if acc.FilteredBy == nil {
				acc.FilteredBy = map[string]int64{}
			}
			acc.FilteredBy[filterReasons[rc.reason]]++
			continue
		}
		acc.Accepted++
		row := &c.row
		a := b.arena
		row.User = a[rc.user[0]:rc.user[1]]
		row.Order = nil
		if rc.flags&fHasOrder != 0 {
			row.Order = a[rc.order[0]:rc.order[1]]
		}
		row.Channel = nil
		if rc.flags&fHasChannel != 0 {
			row.Channel = a[rc.channel[0]:rc.channel[1]]
		}
		row.Inviter = a[rc.inviter[0]:rc.inviter[1]]
		row.Unix = rc.unix
		row.Cents = rc.cents
		row.UserNum = rc.userNum
		row.UserIsNum = rc.flags&fUserNum != 0
		row.OrderKey = rc.orderKey
		row.OrderKind = rc.orderKind
		row.Cancellation = rc.flags&fCancel != 0
		if row.Cancellation {
			acc.Netted++
		}
		row.Line = rc.line
		if err := c.fn(row); err != nil {
			return err
		}
	}
	return nil
}

func (c *consumer) writeReject(line int64, f fault, raw []byte) error {
	path := c.r.s.Rejects.File
	if path == "" {
		return nil
	}
	if !c.rejOpen {
		c.rejOpen = true
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("rejects file: %w", err)
		}
		fh, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("rejects file: %w", err)
		}
		c.rejF = fh
		c.rejW = csv.NewWriter(fh)
		if err := c.rejW.Write([]string{"file", "line", "field", "reason", "raw"}); err != nil {
			return fmt.Errorf("rejects file: %w", err)
		}
	}
	if err := c.rejW.Write([]string{c.r.name, strconv.FormatInt(line, 10), f.field, f.reason, string(raw)}); err != nil {
		return fmt.Errorf("rejects file: %w", err)
	}
	return nil
}

func (c *consumer) closeRejects() error {
	if c.rejF == nil {
		return nil
	}
	c.rejW.Flush()
	err := c.rejW.Error()
	if cerr := c.rejF.Close(); err == nil {
		err = cerr
	}
	c.rejF = nil
	if err != nil {
		return fmt.Errorf("rejects file: %w", err)
	}
	return nil
}
