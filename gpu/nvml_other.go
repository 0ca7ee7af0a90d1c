//go:build !linux || !cgo

package gpu

import "fmt"

// Probe cannot read NVML without cgo on Linux.
func Probe() ([]Device, error) {
	return nil, fmt.Errorf("%w: GPU telemetry needs a Linux build with cgo", ErrNoGPU)
}
