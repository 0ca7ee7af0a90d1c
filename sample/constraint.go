package sample

// Constraint restricts what one sequence may sample next (structured
// outputs: a grammar.Matcher). The engine loop drives it and nothing else
// touches it: Allowed before every sampled step writes the mask that
// SampleMasked applies, and Accept is told the token that was sampled.
//
// Allowed must never leave the mask empty; Accept reports false for a
// token the last mask did not allow (a backend that ignored the mask).
type Constraint interface {
	// Allowed writes the allowed tokens as a bitset (bit id%64 of word
	// id/64), clearing every other bit of mask.
	Allowed(mask []uint64)
	// Accept advances past tok.
	Accept(tok int32) bool
}

// MaskWords is the length in uint64 words of a mask over vocab tokens.
func MaskWords(vocab int) int { return (vocab + 63) / 64 }
