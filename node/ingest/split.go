package ingest

import "bytes"

// scanRecord finds the end of the record starting at buf[0]: the index of
// its terminating '\n' (outside quotes), and the number of newlines inside
// quoted fields. It returns end = -1 if the record is not complete in buf
// (no terminating newline yet); at EOF the caller treats the rest as the
// last record. Quotes open a quoted field only at the start of a field
// (RFC 4180); a quote elsewhere is an ordinary byte. quote = 0 disables
// quoting; noQuotes says the caller knows buf holds no quote byte.
func scanRecord(buf []byte, delim, quote byte, noQuotes bool) (end, nls int) {
	nl := bytes.IndexByte(buf, '\n')
	if quote == 0 || noQuotes {
		return nl, 0
	}
	line := buf
	if nl >= 0 {
		line = buf[:nl]
	}
	if bytes.IndexByte(line, quote) < 0 {
		return nl, 0
	}
	fieldStart, inQ := true, false
	for i := 0; i < len(buf); i++ {
		c := buf[i]
		if inQ {
			if c == quote {
				if i+1 < len(buf) && buf[i+1] == quote {
					i++
					continue
				}
				if i+1 == len(buf) {
					return -1, 0 // cannot tell a closing quote from an escaped one yet
				}
				inQ = false
			} else if c == '\n' {
				nls++
			}
			continue
		}
		switch c {
		case '\n':
			return i, nls
		case delim:
			fieldStart = true
			continue
		case quote:
			if fieldStart {
				inQ = true
			}
		}
		fieldStart = false
	}
	return -1, 0
}

// cutBlock returns the length of the longest prefix of buf made of complete
// records (buf starts at a record boundary), and whether buf has any quote.
func cutBlock(buf []byte, delim, quote byte) (cut int, hasQuotes bool) {
	if quote == 0 || bytes.IndexByte(buf, quote) < 0 {
		return bytes.LastIndexByte(buf, '\n') + 1, false
	}
	pos := 0
	for pos < len(buf) {
		end, _ := scanRecord(buf[pos:], delim, quote, false)
		if end < 0 {
			break
		}
		pos += end + 1
	}
	return pos, true
}

// splitDelimited splits one record (without its newline) into fields.
// Quoted fields are unescaped into scratch, which must have capacity for
// len(rec) bytes so that it is never reallocated. It returns the fields
// and a reason if the record is malformed.
func splitDelimited(rec []byte, delim, quote byte, fields [][]byte, scratch []byte) ([][]byte, []byte, string) {
	fields = fields[:0]
	if quote == 0 || bytes.IndexByte(rec, quote) < 0 {
		for {
			j := bytes.IndexByte(rec, delim)
			if j < 0 {
				return append(fields, rec), scratch, ""
			}
			fields = append(fields, rec[:j])
			rec = rec[j+1:]
		}
	}
	i := 0
	for {
		if i < len(rec) && rec[i] == quote {
			i++
			s := len(scratch)
			for {
				j := bytes.IndexByte(rec[i:], quote)
				if j < 0 {
					return fields, scratch, "unterminated quoted field"
				}
				scratch = append(scratch, rec[i:i+j]...)
				i += j + 1
				if i < len(rec) && rec[i] == quote {
					scratch = append(scratch, quote)
					i++
					continue
				}
				break
			}
			fields = append(fields, scratch[s:len(scratch):len(scratch)])
			if i == len(rec) {
				return fields, scratch, ""
			}
			if rec[i] != delim {
				return fields, scratch, "unexpected character after closing quote"
			}
			i++
			continue
		}
		j := bytes.IndexByte(rec[i:], delim)
		if j < 0 {
			return append(fields, rec[i:]), scratch, ""
		}
		fields = append(fields, rec[i:i+j])
		i += j + 1
	}
}

// splitWhitespace splits on runs of spaces and tabs, ignoring leading and
// trailing ones.
func splitWhitespace(rec []byte, fields [][]byte) [][]byte {
	fields = fields[:0]
	i := 0
	for {
		for i < len(rec) && (rec[i] == ' ' || rec[i] == '\t') {
			i++
		}
		if i == len(rec) {
			return fields
		}
		s := i
		for i < len(rec) && rec[i] != ' ' && rec[i] != '\t' {
			i++
		}
		fields = append(fields, rec[s:i])
	}
}

// trimSpace trims ASCII spaces and tabs.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
