//go:build race

package openai

// raceEnabled: the race detector slows everything about tenfold.
const raceEnabled = true
