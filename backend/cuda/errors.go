package cuda

import (
	"errors"
	"fmt"

	"github.com/sotasystems/sota/sample"
)

// Errors of the backend. Native failures wrap one of them with the library's
// message; a sampled row without candidates wraps sample.ErrNoCandidates.
var (
	// ErrLibraryNotFound: libsota_cuda.so could not be found or loaded (or
	// this binary was built without cgo).
	ErrLibraryNotFound = errors.New("libsota_cuda.so not found")
	// ErrNoGPU: the library loaded but no CUDA device (or no usable NVIDIA
	// driver) is present.
	ErrNoGPU         = errors.New("no CUDA GPU")
	ErrABIMismatch   = errors.New("libsota_cuda.so ABI version mismatch")
	ErrOutOfMemory   = errors.New("out of GPU memory")
	ErrUnsupported   = errors.New("not supported by the CUDA backend")
	ErrInvalid       = errors.New("invalid argument")
	ErrCUDA          = errors.New("CUDA error")
	ErrClosed        = errors.New("cuda backend: closed")
	errStateInternal = errors.New("call out of order")
)

// Status codes of sota.h.
const (
	statusOK              = 0
	statusInvalidArgument = 1
	statusNoDevice        = 2
	statusOutOfMemory     = 3
	statusCUDA            = 4
	statusCUBLAS          = 5
	statusUnsupported     = 6
	statusNoCandidates    = 7
	statusState           = 8
)

// statusError maps a sota_status and the library's message to an error; nil for SOTA_OK.
func statusError(op string, status int, msg string) error {
	var base error
	switch status {
	case statusOK:
		return nil
	case statusInvalidArgument:
		base = ErrInvalid
	case statusNoDevice:
		base = ErrNoGPU
	case statusOutOfMemory:
		base = ErrOutOfMemory
	case statusUnsupported:
		base = ErrUnsupported
	case statusNoCandidates:
		base = sample.ErrNoCandidates
	case statusState:
		base = errStateInternal
	case statusCUDA, statusCUBLAS:
		base = ErrCUDA
	default:
		base = fmt.Errorf("%w: unknown status %d", ErrCUDA, status)
	}
	if msg == "" {
		return fmt.Errorf("cuda backend: %s: %w", op, base)
	}
	return fmt.Errorf("cuda backend: %s: %w: %s", op, base, msg)
}
