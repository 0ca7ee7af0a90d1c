package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Arrivals returns the send time of each of n requests, as offsets from the
// start: all zero for an infinite rate, else gaps drawn from a gamma
// distribution with mean 1/rate and shape burstiness (1 = a Poisson
// process, exponential gaps; below 1 burstier, above 1 more regular), as
// vllm bench serve's --request-rate and --burstiness.
func Arrivals(rng *rand.Rand, n int, rate, burstiness float64) ([]time.Duration, error) {
	if n < 0 || !(rate > 0) || !(burstiness > 0) {
		return nil, fmt.Errorf("%w: arrivals: need rate > 0 and burstiness > 0 (got %v, %v)", ErrConfig, rate, burstiness)
	}
	out := make([]time.Duration, n)
	if math.IsInf(rate, 1) {
		return out, nil
	}
	scale := 1 / (rate * burstiness) // seconds
	t := 0.0
	for i := range out {
		out[i] = time.Duration(t * float64(time.Second))
		t += gamma(rng, burstiness) * scale
	}
	return out, nil
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method (with
// the usual boost for shape < 1).
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape == 1 {
		return rng.ExpFloat64()
	}
	if shape < 1 {
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		return gamma(rng, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
