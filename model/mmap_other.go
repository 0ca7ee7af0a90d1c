//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package model

import (
	"fmt"
	"os"
)

var mmapEnabled = false

// mapFile reads path into memory: this platform has no mmap support here.
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file")
	}
	return readOpen(f, fi.Size())
}
