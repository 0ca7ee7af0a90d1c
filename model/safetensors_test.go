package model

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

// rawFile is an 8-byte length, the header text as given, then data.
func rawFile(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

func TestParseHeader(t *testing.T) {
	file := encodeSafetensors(t, []stTensor{
		{"b", BF16, []int{2, 3}, make([]byte, 12)},
		{"a", F32, []int{2}, f32Bytes([]float32{1, 2})},
		{"scalar", F16, []int{}, make([]byte, 2)},
		{"empty", F32, []int{0, 5}, nil},
	})
	h, err := ParseHeader(file, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range h.Tensors {
		names = append(names, x.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "empty", "scalar"}) {
		t.Errorf("names %v, want sorted", names)
	}
	a := h.Tensors[0]
	if a.DType != F32 || !slices.Equal(a.Shape, []int{2}) || a.Begin != 12 || a.End != 20 {
		t.Errorf("tensor a = %+v", a)
	}
	if h.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", h.Metadata)
	}
	hr, err := ReadHeader(bytes.NewReader(file), int64(len(file)))
	if err != nil || len(hr.Tensors) != 4 || hr.DataOffset != h.DataOffset {
		t.Errorf("ReadHeader = %+v, %v", hr, err)
	}
	// spaces after the JSON are allowed (the format pads headers to 8 bytes)
	padded := rawFile(`{"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}   `, make([]byte, 4))
	if _, err := ParseHeader(padded, int64(len(padded))); err != nil {
		t.Errorf("padded header: %v", err)
	}
	// a non-string-map __metadata__ is ignored
	odd := rawFile(`{"__metadata__": {"n": 1}}`, nil)
	if h, err := ParseHeader(odd, int64(len(odd))); err != nil || h.Metadata != nil || len(h.Tensors) != 0 {
		t.Errorf("odd metadata: %+v, %v", h, err)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	entry := func(dtype, shape, offsets string) string {
		return `{"t": {"dtype": "` + dtype + `", "shape": ` + shape + `, "data_offsets": ` + offsets + `}}`
	}
	huge := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1)
	huge = append(huge, make([]byte, 64)...)
	pastEOF := binary.LittleEndian.AppendUint64(nil, 1000)
	pastEOF = append(pastEOF, `{}`...)
	tests := []struct {
		name    string
		file    []byte
		size    int64 // 0: len(file)
		want    error
		mention []string
	}{
		{"empty file", nil, 0, ErrTruncated, nil},
		{"short length", []byte{1, 2, 3}, 0, ErrTruncated, nil},
		{"header length past EOF", pastEOF, 0, ErrTruncated, []string{"1000"}},
		{"header length over the cap", huge, 1 << 40, ErrBadHeader, []string{"limit"}},
		{"prefix shorter than header", rawFile(`{}`, nil)[:9], 10, ErrTruncated, nil},
		{"corrupt JSON", rawFile(`{"t": {"dtype": "F32",`, nil), 0, ErrBadHeader, []string{"JSON"}},
		{"JSON array", rawFile(`[]`, nil), 0, ErrBadHeader, nil},
		{"JSON null", rawFile(`null`, nil), 0, ErrBadHeader, nil},
		{"unknown dtype I8", rawFile(entry("I8", "[4]", "[0, 4]"), make([]byte, 4)), 0, ErrUnsupportedDType, []string{"tensor t", `"I8"`}},
		{"dtype F64", rawFile(entry("F64", "[1]", "[0, 8]"), make([]byte, 8)), 0, ErrUnsupportedDType, []string{"F64"}},
		{"missing dtype", rawFile(`{"t": {"shape": [1], "data_offsets": [0, 4]}}`, make([]byte, 4)), 0, ErrBadHeader, []string{"tensor t"}},
		{"entry not an object", rawFile(`{"t": 5}`, nil), 0, ErrBadHeader, []string{"tensor t"}},
		{"three offsets", rawFile(entry("F32", "[1]", "[0, 4, 8]"), make([]byte, 8)), 0, ErrBadHeader, nil},
		{"negative dim", rawFile(entry("F32", "[-1]", "[0, 4]"), make([]byte, 4)), 0, ErrBadHeader, nil},
		{"fractional dim", rawFile(entry("F32", "[1.5]", "[0, 4]"), make([]byte, 4)), 0, ErrBadHeader, nil},
		{"huge shape", rawFile(entry("F32", "[4294967296, 4294967296]", "[0, 4]"), make([]byte, 4)), 0, ErrBadHeader, nil},
		{"offsets reversed", rawFile(entry("F32", "[1]", "[4, 0]"), make([]byte, 4)), 0, ErrBadHeader, nil},
		{"negative offset", rawFile(entry("F32", "[1]", "[-4, 0]"), make([]byte, 4)), 0, ErrBadHeader, nil},
		{"size mismatch", rawFile(entry("F32", "[2]", "[0, 4]"), make([]byte, 8)), 0, ErrBadHeader, []string{"tensor t", "needs 8"}},
		{"data past EOF", rawFile(entry("F32", "[4]", "[0, 16]"), make([]byte, 10)), 0, ErrTruncated, []string{"tensor t"}},
		{"overlap", rawFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, make([]byte, 8)), 0, ErrBadHeader, []string{"overlap"}},
		{"empty name", rawFile(`{"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}`, make([]byte, 4)), 0, ErrBadHeader, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size == 0 {
				size = int64(len(tt.file))
			}
			_, err := ParseHeader(tt.file, size)
			wantErr(t, err, tt.want, tt.mention...)
		})
	}
}
