//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package model

var mmapEnabled = false

// mapFile reads path into memory: this platform has no mmap support here.
func mapFile(path string) ([]byte, func() error, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return readOpen(f, size)
}
