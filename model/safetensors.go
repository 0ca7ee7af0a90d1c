package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// MaxHeaderSize bounds a safetensors JSON header (the reference
// implementation's limit is the same 100 MB).
const MaxHeaderSize = 100 << 20

// maxTensorBytes bounds one tensor's size so size arithmetic cannot overflow.
const maxTensorBytes = 1 << 50

// Header is a parsed safetensors header. A file is: 8 bytes little-endian
// header length N, N bytes of JSON, then the data section.
type Header struct {
	DataOffset int64             // 8 + N: where the data section starts in the file
	Tensors    []TensorInfo      // sorted by name
	Metadata   map[string]string // __metadata__ when it is a string map, else nil
}

// TensorInfo is one tensor entry of a header.
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64 // byte range within the data section
}

// HeaderLen reads the 8-byte header length at the start of a file.
func HeaderLen(prefix []byte) (int64, error) {
	if len(prefix) < 8 {
		return 0, fmt.Errorf("%w: %d bytes, too short for the 8-byte header length", ErrTruncated, len(prefix))
	}
	n := binary.LittleEndian.Uint64(prefix)
	if n > MaxHeaderSize {
		return 0, fmt.Errorf("%w: header length %d exceeds the %d-byte limit", ErrBadHeader, n, MaxHeaderSize)
	}
	return int64(n), nil
}

// ReadHeader reads and parses the header of a safetensors file of the
// given size without reading its data.
func ReadHeader(r io.ReaderAt, fileSize int64) (Header, error) {
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return Header{}, fmt.Errorf("%w: reading header length: %v", ErrTruncated, err)
	}
	n, err := HeaderLen(lenBuf[:])
	if err != nil {
		return Header{}, err
	}
	if 8+n > fileSize {
		return Header{}, headerPastEOF(n, fileSize)
	}
	buf := make([]byte, 8+n)
	if _, err := r.ReadAt(buf, 0); err != nil {
		return Header{}, fmt.Errorf("%w: reading %d-byte header: %v", ErrTruncated, n, err)
	}
	return ParseHeader(buf, fileSize)
}

func headerPastEOF(n, fileSize int64) error {
	return fmt.Errorf("%w: header length %d runs past the end of the %d-byte file", ErrTruncated, n, fileSize)
}

// rawEntry is a tensor entry as JSON spells it.
type rawEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ParseHeader parses the header at the start of prefix (which must hold at
// least the 8-byte length and the JSON) of a file of fileSize bytes, and
// checks every entry: a supported dtype, a non-negative shape, offsets
// inside the data section whose length matches shape and dtype, and no two
// tensors overlapping. __metadata__ is kept when it is a string map and is
// otherwise ignored.
func ParseHeader(prefix []byte, fileSize int64) (Header, error) {
	n, err := HeaderLen(prefix)
	if err != nil {
		return Header{}, err
	}
	if 8+n > fileSize {
		return Header{}, headerPastEOF(n, fileSize)
	}
	if int64(len(prefix)) < 8+n {
		return Header{}, fmt.Errorf("%w: have %d bytes of a %d-byte header", ErrTruncated, int64(len(prefix))-8, n)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(prefix[8:8+n], &entries); err != nil {
		return Header{}, fmt.Errorf("%w: corrupt JSON: %v", ErrBadHeader, err)
	}
	if entries == nil {
		return Header{}, fmt.Errorf("%w: JSON is not an object", ErrBadHeader)
	}
	h := Header{DataOffset: 8 + n}
	dataSize := fileSize - h.DataOffset
	for name, raw := range entries {
		if name == "__metadata__" {
			var md map[string]string
			if json.Unmarshal(raw, &md) == nil {
				h.Metadata = md
			}
			continue
		}
		t, err := parseEntry(name, raw, dataSize)
		if err != nil {
			return Header{}, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if err := checkOverlap(h.Tensors); err != nil {
		return Header{}, err
	}
	sort.Slice(h.Tensors, func(i, j int) bool { return h.Tensors[i].Name < h.Tensors[j].Name })
	return h, nil
}

func parseEntry(name string, raw json.RawMessage, dataSize int64) (TensorInfo, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: tensor %s: %s", ErrBadHeader, name, fmt.Sprintf(format, args...))
	}
	if name == "" {
		return TensorInfo{}, bad("empty tensor name")
	}
	var e rawEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return TensorInfo{}, bad("malformed entry %s", snippet(raw))
	}
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return TensorInfo{}, bad("entry lacks dtype, shape or data_offsets")
	}
	if len(*e.DataOffsets) != 2 {
		return TensorInfo{}, bad("data_offsets has %d entries, want 2", len(*e.DataOffsets))
	}
	t := TensorInfo{Name: name, DType: DType(*e.DType), Begin: (*e.DataOffsets)[0], End: (*e.DataOffsets)[1]}
	if t.DType.Size() == 0 {
		return TensorInfo{}, fmt.Errorf("tensor %s: %w %q (supported: %s)", name, ErrUnsupportedDType, *e.DType, supportedDTypes)
	}
	bytes := int64(t.DType.Size())
	t.Shape = make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 {
			return TensorInfo{}, bad("negative dimension in shape %v", *e.Shape)
		}
		if d > 0 && bytes > maxTensorBytes/d {
			return TensorInfo{}, bad("shape %v is too large", *e.Shape)
		}
		bytes *= d
		t.Shape[i] = int(d)
	}
	if t.Begin < 0 || t.End < t.Begin {
		return TensorInfo{}, bad("bad data_offsets [%d, %d]", t.Begin, t.End)
	}
	if t.End > dataSize {
		return TensorInfo{}, fmt.Errorf("%w: tensor %s: data [%d, %d) runs past the end of the %d-byte data section", ErrTruncated, name, t.Begin, t.End, dataSize)
	}
	if t.End-t.Begin != bytes {
		return TensorInfo{}, bad("%d bytes of data, but shape %v of %s needs %d", t.End-t.Begin, t.Shape, t.DType, bytes)
	}
	return t, nil
}

// checkOverlap rejects two non-empty tensors sharing bytes.
func checkOverlap(ts []TensorInfo) error {
	byBegin := make([]int, 0, len(ts))
	for i, t := range ts {
		if t.End > t.Begin {
			byBegin = append(byBegin, i)
		}
	}
	sort.Slice(byBegin, func(a, b int) bool {
		ta, tb := ts[byBegin[a]], ts[byBegin[b]]
		if ta.Begin != tb.Begin {
			return ta.Begin < tb.Begin
		}
		return ta.Name < tb.Name
	})
	for k := 1; k < len(byBegin); k++ {
		prev, cur := ts[byBegin[k-1]], ts[byBegin[k]]
		if cur.Begin < prev.End {
			return fmt.Errorf("%w: tensors %s and %s overlap", ErrBadHeader, prev.Name, cur.Name)
		}
	}
	return nil
}

// supportedDTypes is for messages.
var supportedDTypes = strings.Join([]string{string(F32), string(F16), string(BF16)}, ", ")
