package model

import "errors"

// Sentinel errors; every error of this package wraps one of them (or an
// fs/os error) with the file and tensor it concerns.
var (
	// ErrInvalidConfig: config.json or generation_config.json is malformed
	// or describes an impossible model.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrUnsupportedArch: the checkpoint's architecture is not one sota runs.
	ErrUnsupportedArch = errors.New("unsupported architecture")
	// ErrUnsupportedRope: a RoPE scaling type sota does not implement.
	ErrUnsupportedRope = errors.New("unsupported rope scaling")
	// ErrNoConfig: the model folder has no config.json.
	ErrNoConfig = errors.New("no config.json")
	// ErrNoWeights: the model folder has neither model.safetensors nor
	// model.safetensors.index.json.
	ErrNoWeights = errors.New("no model.safetensors or model.safetensors.index.json")
	// ErrBadHeader: a safetensors header is corrupt or inconsistent.
	ErrBadHeader = errors.New("bad safetensors header")
	// ErrTruncated: a file ends before the data its header describes.
	ErrTruncated = errors.New("truncated file")
	// ErrUnsupportedDType: a tensor's element type is not F32, F16 or BF16.
	ErrUnsupportedDType = errors.New("unsupported dtype")
	// ErrMissingTensor: a tensor the architecture needs is absent.
	ErrMissingTensor = errors.New("missing tensor")
	// ErrUnexpectedTensor: the checkpoint holds a tensor the architecture
	// does not use.
	ErrUnexpectedTensor = errors.New("unexpected tensor")
	// ErrShapeMismatch: a tensor's shape differs from what the config implies.
	ErrShapeMismatch = errors.New("shape mismatch")
)
