//go:build !cgo

package cuda

import "fmt"

// loadLibrary cannot load anything without cgo.
func loadLibrary(string) (native, error) {
	return nil, fmt.Errorf("cuda backend: %w: this sota binary was built with CGO_ENABLED=0 and cannot load it", ErrLibraryNotFound)
}
