package model

import (
	"fmt"
	"math"
)

// defaultRopeTheta is transformers' default_theta.
const defaultRopeTheta = 10000.0

// parseRope reads the RoPE settings in either form:
//
//	v4: "rope_theta": 500000, "rope_scaling": {"rope_type"|"type": ..., "factor": ...}
//	v5: "rope_parameters": {"rope_type": ..., "rope_theta": ..., "factor": ...}
//
// As in transformers, a non-empty rope_scaling wins over rope_parameters, a
// rope_theta inside the dict wins over the top-level one, and llama3's
// original_max_position_embeddings falls back to a top-level key of that
// name, then to max_position_embeddings.
func parseRope(o object, c *Config) error {
	theta, err := o.float("rope_theta", defaultRopeTheta)
	if err != nil {
		return err
	}
	rp, ok, err := o.object("rope_scaling")
	if err != nil {
		return err
	}
	if !ok {
		if rp, ok, err = o.object("rope_parameters"); err != nil {
			return err
		}
	}
	partial, err := o.float("partial_rotary_factor", 1)
	if err != nil {
		return err
	}
	c.RopeTheta = theta
	if !ok {
		return checkPartial(partial)
	}
	for _, layerType := range []string{"full_attention", "sliding_attention"} {
		if rp.present(layerType) {
			return fmt.Errorf("%w: %s: per-layer-type rope parameters are not supported", ErrUnsupportedRope, rp.what)
		}
	}
	if c.RopeTheta, err = rp.float("rope_theta", theta); err != nil {
		return err
	}
	if partial, err = rp.float("partial_rotary_factor", partial); err != nil {
		return err
	}
	if err := checkPartial(partial); err != nil {
		return err
	}
	legacyType, err := rp.string("type", "default")
	if err != nil {
		return err
	}
	typ, err := rp.string("rope_type", legacyType)
	if err != nil {
		return err
	}
	var s RopeScaling
	switch typ {
	case "default":
		return nil
	case "linear":
		s.Type = typ
		if !rp.set("factor") {
			return rp.errf("factor", "required for rope type linear")
		}
		if s.Factor, err = rp.float("factor", 0); err != nil {
			return err
		}
	case "llama3":
		s.Type = typ
		for _, f := range []struct {
			dst *float64
			key string
		}{{&s.Factor, "factor"}, {&s.LowFreqFactor, "low_freq_factor"}, {&s.HighFreqFactor, "high_freq_factor"}} {
			if !rp.set(f.key) {
				return rp.errf(f.key, "required for rope type llama3")
			}
			if *f.dst, err = rp.float(f.key, 0); err != nil {
				return err
			}
		}
		orig, err := rp.int("original_max_position_embeddings", c.MaxPositionEmbeddings)
		if err != nil {
			return err
		}
		if s.OriginalMaxPositionEmbeddings, err = o.int("original_max_position_embeddings", orig); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: rope type %q (supported: default, linear, llama3)", ErrUnsupportedRope, typ)
	}
	c.RopeScaling = &s
	return nil
}

func checkPartial(f float64) error {
	if f != 1 {
		return fmt.Errorf("%w: partial_rotary_factor %v (only 1 is supported)", ErrUnsupportedRope, f)
	}
	return nil
}

// validate checks the numbers the inverse-frequency formulas divide by.
func (s *RopeScaling) validate() error {
	if s == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: rope scaling: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	finitePos := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }
	switch s.Type {
	case "linear":
	case "llama3":
		if !finitePos(s.LowFreqFactor) || !finitePos(s.HighFreqFactor) || s.HighFreqFactor <= s.LowFreqFactor {
			return bad("llama3 needs 0 < low_freq_factor < high_freq_factor, got %v and %v", s.LowFreqFactor, s.HighFreqFactor)
		}
		if s.OriginalMaxPositionEmbeddings <= 0 {
			return bad("llama3 original_max_position_embeddings = %d", s.OriginalMaxPositionEmbeddings)
		}
	default:
		return fmt.Errorf("%w: rope type %q (supported: default, linear, llama3)", ErrUnsupportedRope, s.Type)
	}
	if !finitePos(s.Factor) {
		return bad("factor = %v, want a positive number", s.Factor)
	}
	return nil
}

// RopeInvFreq returns the HeadDim/2 inverse frequencies of the rotary
// embedding, inv[i] = 1/theta^(2i/HeadDim), scaled as transformers' rope init
// functions scale them: "linear" divides all by factor; "llama3" divides the
// low frequencies (wavelength > original/low_freq_factor) by factor, keeps
// the high ones (wavelength < original/high_freq_factor) and blends in
// between. Computed in float64 (transformers computes in float32).
func (c *Config) RopeInvFreq() []float64 {
	if c.HeadDim <= 0 || c.HeadDim > maxDim {
		return nil
	}
	dim := c.HeadDim
	inv := make([]float64, dim/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(dim))
	}
	s := c.RopeScaling
	if s == nil {
		return inv
	}
	switch s.Type {
	case "linear":
		for i := range inv {
			inv[i] /= s.Factor
		}
	case "llama3":
		old := float64(s.OriginalMaxPositionEmbeddings)
		lowWavelen := old / s.LowFreqFactor
		highWavelen := old / s.HighFreqFactor
		for i, f := range inv {
			wavelen := 2 * math.Pi / f
			switch {
			case wavelen < highWavelen:
			case wavelen > lowWavelen:
				inv[i] = f / s.Factor
			default:
				smooth := (old/wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				inv[i] = (1-smooth)*f/s.Factor + smooth*f
			}
		}
	}
	return inv
}
