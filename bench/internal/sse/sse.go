package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrLineTooLong is returned for a line longer than the Reader's limit.
var ErrLineTooLong = errors.New("sse: line too long")

// Event is one dispatched event. Data aliases the Reader's buffer and is
// valid only until the next call to Next.
type Event struct {
	Name string // the "event:" field; empty for the default "message"
	Data []byte
}

// Reader reads events from an io.Reader.
type Reader struct {
	r       *bufio.Reader
	maxLine int
	line    []byte // the current line when it spans several buffer fills
	data    []byte
	hasData bool
	name    string
	pending [][]byte // lines after a lone "\r" inside one read line
	eof     bool
}

// NewReader returns a Reader that refuses lines longer than maxLine bytes
// (0 means 16 MiB).
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = 16 << 20
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), maxLine: maxLine}
}

// Next returns the next event, or io.EOF when the stream ends with no event
// pending. Other errors come from the underlying reader or the line limit.
func (r *Reader) Next() (Event, error) {
	r.data = r.data[:0]
	r.hasData = false
	r.name = ""
	for {
		line, err := r.nextLine()
		if err == io.EOF {
			if r.hasData {
				return Event{Name: r.name, Data: r.data}, nil
			}
			return Event{}, io.EOF
		}
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if r.hasData {
				return Event{Name: r.name, Data: r.data}, nil
			}
			r.name = "" // an event with no data is not dispatched
			continue
		}
		r.field(line)
	}
}

// field applies one non-empty line to the event being built.
func (r *Reader) field(line []byte) {
	if line[0] == ':' {
		return // comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if r.hasData {
			r.data = append(r.data, '\n')
		}
		r.data = append(r.data, value...)
		r.hasData = true
	case "event":
		r.name = string(value)
	}
	// id and retry do not matter to a benchmark; unknown fields are ignored.
}

// nextLine returns the next line without its terminator.
func (r *Reader) nextLine() ([]byte, error) {
	if len(r.pending) > 0 {
		l := r.pending[0]
		r.pending = r.pending[1:]
		return l, nil
	}
	if r.eof {
		return nil, io.EOF
	}
	r.line = r.line[:0]
	for {
		chunk, err := r.r.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if len(r.line) > r.maxLine {
			return nil, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, r.maxLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			r.eof = true
			if len(r.line) == 0 {
				return nil, io.EOF
			}
			break
		}
		if err != nil {
			return nil, err
		}
		break
	}
	l := bytes.TrimSuffix(r.line, []byte("\n"))
	l = bytes.TrimSuffix(l, []byte("\r"))
	if bytes.IndexByte(l, '\r') < 0 {
		return l, nil
	}
	// Lone "\r" line terminators inside what was read up to "\n".
	parts := bytes.Split(l, []byte("\r"))
	r.pending = append(r.pending[:0], parts[1:]...)
	return parts[0], nil
}
