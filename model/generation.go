package model

import "math"

// ParseGenerationConfig reads generation_config.json. eos_token_id may be an
// id or a list; absent ids read as BOSTokenID -1 and no EOSTokenIDs.
func ParseGenerationConfig(data []byte) (GenerationConfig, error) {
	o, err := parseObject("generation_config.json", data)
	if err != nil {
		return GenerationConfig{}, err
	}
	var g GenerationConfig
	if g.BOSTokenID, err = o.tokenID("bos_token_id", -1); err != nil {
		return GenerationConfig{}, err
	}
	if g.EOSTokenIDs, _, err = o.tokenIDs("eos_token_id"); err != nil {
		return GenerationConfig{}, err
	}
	if g.DoSample, err = o.bool("do_sample", false); err != nil {
		return GenerationConfig{}, err
	}
	floats := []struct {
		dst      **float64
		key      string
		min, max float64
	}{
		{&g.Temperature, "temperature", 0, math.MaxFloat64},
		{&g.TopP, "top_p", 0, 1},
		{&g.RepetitionPenalty, "repetition_penalty", 0, math.MaxFloat64},
	}
	for _, f := range floats {
		if !o.set(f.key) {
			continue
		}
		v, err := o.float(f.key, 0)
		if err != nil {
			return GenerationConfig{}, err
		}
		if !(v >= f.min && v <= f.max) {
			return GenerationConfig{}, o.errf(f.key, "%v is out of range", v)
		}
		*f.dst = &v
	}
	if o.set("top_k") {
		k, err := o.int("top_k", 0)
		if err != nil {
			return GenerationConfig{}, err
		}
		if k < 0 || k > math.MaxInt32 {
			return GenerationConfig{}, o.errf("top_k", "%d is out of range", k)
		}
		g.TopK = &k
	}
	ints := []struct {
		dst *int
		key string
	}{{&g.MaxLength, "max_length"}, {&g.MaxNewTokens, "max_new_tokens"}}
	for _, f := range ints {
		if *f.dst, err = o.int(f.key, 0); err != nil {
			return GenerationConfig{}, err
		}
		if *f.dst < 0 || *f.dst > math.MaxInt32 {
			return GenerationConfig{}, o.errf(f.key, "%d is out of range", *f.dst)
		}
	}
	return g, nil
}

// generationFromConfig is the generation config of a model that ships none:
// config.json's BOS and EOS, no sampling defaults.
func generationFromConfig(c *Config) GenerationConfig {
	return GenerationConfig{BOSTokenID: c.BOSTokenID, EOSTokenIDs: append([]int32(nil), c.EOSTokenIDs...)}
}

// unionIDs is a then b without repeats, in first-seen order.
func unionIDs(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	seen := make(map[int32]bool, len(a)+len(b))
	for _, ids := range [][]int32{a, b} {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
