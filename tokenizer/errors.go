package tokenizer

import "errors"

var (
	// ErrInvalid reports a tokenizer file that cannot be parsed or whose
	// contents are inconsistent (a merge naming an unknown token, say).
	ErrInvalid = errors.New("invalid tokenizer file")
	// ErrUnsupported reports a component type, option or pattern this
	// package does not implement. Loading fails rather than produce ids that
	// differ from the reference library.
	ErrUnsupported = errors.New("unsupported tokenizer component")
)
