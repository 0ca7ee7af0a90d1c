package sample

// The random stream is counter-based: the draw for output index n of a
// request is a pure function of (seed, n), so a request replays exactly, a
// preempted and recomputed sequence draws the same tokens, and a GPU kernel
// computes the same numbers without carrying generator state.

// Constants of SplitMix64 (Steele, Lea and Flood 2014; Stafford's mix 13).
const (
	golden  = 0x9E3779B97F4A7C15 // increment of the SplitMix64 counter
	mixMul1 = 0xBF58476D1CE4E5B9
	mixMul2 = 0x94D049BB133111EB
)

// mix64 is the SplitMix64 finaliser, a bijection on uint64.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * mixMul1
	z = (z ^ (z >> 27)) * mixMul2
	return z ^ (z >> 31)
}

// Uniform is the uniform draw in [0, 1) used for output index n (the number
// of tokens already generated) of the stream selected by seed:
//
//	key  = mix64(seed)
//	bits = mix64(key + (uint64(n)+1) * 0x9E3779B97F4A7C15)   // wrapping uint64 arithmetic
//	u    = float64(bits >> 11) * 2^-53
//
// mix64(z) = z ^= z>>30; z *= 0xBF58476D1CE4E5B9; z ^= z>>27; z *= 0x94D049BB133111EB; z ^= z>>31.
// For a fixed key the sequence over n is SplitMix64 seeded with key; hashing
// the seed first keeps nearby seeds (0, 1, 2, ...) from giving shifted copies
// of one stream. u has 53 random bits and is never 1.
func Uniform(seed uint64, n int) float64 {
	bits := mix64(mix64(seed) + (uint64(n)+1)*golden)
	return float64(bits>>11) * 0x1p-53
}
