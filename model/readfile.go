package model

import (
	"fmt"
	"io"
	"math"
	"os"
)

// readOpen reads the whole of an open file of the given size into memory.
func readOpen(f *os.File, size int64) ([]byte, func() error, error) {
	if size < 0 || size > math.MaxInt {
		return nil, nil, fmt.Errorf("file of %d bytes is too large to read", size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	return data, func() error { return nil }, nil
}

// openRegular opens path for reading and returns it with its size; anything
// but a regular file (a directory, a device) is refused.
func openRegular(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("not a regular file")
	}
	return f, fi.Size(), nil
}
