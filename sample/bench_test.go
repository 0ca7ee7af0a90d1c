package sample

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSample times one Sample call on a language-model-like row
// (N(0, 2.5) plus a few boosted tokens). No case rewrites the row (no bias,
// penalties or NaN), so it is reused; "argmax" is the single-pass floor the
// other cases are compared with.
func BenchmarkSample(b *testing.B) {
	cases := []struct {
		name string
		p    Params
	}{
		{"greedy", Params{}},
		{"temperature", Params{Temperature: 0.8}},
		{"top_k=50", Params{Temperature: 0.8, TopK: 50}},
		{"top_p=0.9", Params{Temperature: 0.8, TopP: 0.9}},
		{"top_k=50,top_p=0.9", Params{Temperature: 0.8, TopK: 50, TopP: 0.9}},
		{"top_k=4096,top_p=0.9", Params{Temperature: 0.8, TopK: 4096, TopP: 0.9}},
		{"min_p=0.05", Params{Temperature: 0.8, MinP: 0.05}},
		{"temperature=100(flat)", Params{Temperature: 100}},
		{"greedy+logprobs=5", Params{Logprobs: true, TopLogprobs: 5}},
	}
	for _, vocab := range []int{128256, 152064} {
		row := randomRow(rand.New(rand.NewPCG(1, 1)), vocab, 2.5)
		b.Run(fmt.Sprintf("vocab=%d/argmax", vocab), func(b *testing.B) {
			for b.Loop() {
				Argmax(row)
			}
		})
		for _, c := range cases {
			b.Run(fmt.Sprintf("vocab=%d/%s", vocab, c.name), func(b *testing.B) {
				s := NewSampler()
				p := c.p
				b.ReportAllocs()
				for b.Loop() {
					p.Seed++
					if _, err := s.Sample(row, p, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
