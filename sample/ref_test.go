package sample

import (
	"math"
	"slices"
)

// refProcess applies steps 2 and 3 of the package doc the plain way (maps,
// no scratch) and the reading rule, on a copy.
func refProcess(logits []float32, p Params, prompt, output []int32) []float32 {
	x := slices.Clone(logits)
	for id, b := range p.LogitBias {
		x[id] += b
	}
	if p.RepetitionPenalty != 0 && p.RepetitionPenalty != 1 {
		seen := map[int32]bool{}
		for _, id := range append(slices.Clone(prompt), output...) {
			if seen[id] {
				continue
			}
			seen[id] = true
			if x[id] > 0 {
				x[id] /= p.RepetitionPenalty
			} else {
				x[id] *= p.RepetitionPenalty
			}
		}
	}
	count := map[int32]int{}
	for _, id := range output {
		count[id]++
	}
	for id, c := range count {
		x[id] -= float32(p.FrequencyPenalty*float32(c)) + p.PresencePenalty
	}
	for i := range x {
		x[i] = readLogit(x[i])
	}
	return x
}

// refSample is step 4 done the slow, obvious way: a full sort of the
// vocabulary and strictly sequential float64 sums. It returns the token and
// the kept tokens in ranking order.
func refSample(logits []float32, p Params, prompt, output []int32) (int32, []int32) {
	x := refProcess(logits, p, prompt, output)
	order := make([]int32, len(x))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { // stable: ties keep the lower id first
		switch {
		case x[a] > x[b]:
			return -1
		case x[a] < x[b]:
			return 1
		}
		return 0
	})
	if p.Temperature == 0 {
		return order[0], order[:1]
	}
	m := x[order[0]]
	w := make([]float64, len(order))
	for i, id := range order {
		w[i] = float64(weightOf((x[id] - m) / p.Temperature))
	}
	sum := func(n int) float64 {
		s := 0.0
		for _, v := range w[:n] {
			s += v
		}
		return s
	}
	L := len(order)
	if p.TopK > 0 && p.TopK < L {
		L = p.TopK
	}
	if p.TopP > 0 && p.TopP < 1 {
		target := float64(p.TopP) * sum(L)
		for i := range L {
			if sum(i+1) >= target {
				L = i + 1
				break
			}
		}
	}
	if p.MinP > 0 {
		for i := 1; i < L; i++ {
			if w[i] < float64(p.MinP) {
				L = i
				break
			}
		}
	}
	target := Uniform(p.Seed, len(output)) * sum(L)
	cum := 0.0
	for i := range L {
		if cum += w[i]; cum > target {
			return order[i], order[:L]
		}
	}
	return order[L-1], order[:L]
}

// softmax64 is softmax(x / T) with math.Exp, in float64.
func softmax64(x []float32, temp float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(v))
	}
	out := make([]float64, len(x))
	s := 0.0
	for i, v := range x {
		out[i] = math.Exp((float64(v) - m) / temp)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
