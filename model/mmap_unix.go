//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package model

import (
	"math"
	"syscall"
)

// mmapEnabled lets tests exercise the read fallback.
var mmapEnabled = true

// mapFile maps path read-only, or reads it when it cannot be mapped
// (an empty file, a file system without mmap).
func mapFile(path string) ([]byte, func() error, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if mmapEnabled && size > 0 && size <= math.MaxInt {
		data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
		if err == nil {
			return data, func() error { return syscall.Munmap(data) }, nil
		}
	}
	return readOpen(f, size)
}
