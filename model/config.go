package model

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// archInfo is what differs between the supported architectures: the class
// name in config.json, the model_type, and transformers' defaults for keys a
// config.json leaves out (LlamaConfig, MistralConfig, Qwen2Config).
type archInfo struct {
	arch      Arch
	class     string
	modelType string

	vocab, hidden, intermediate, layers, heads int
	kvHeads                                    int // 0: as many as heads
	maxPositions                               int
	eps                                        float64
	bos, eos                                   int32 // -1: none
	window                                     int   // sliding_window when the key is absent; 0: none
	maxWindowLayers                            int   // Qwen2
}

var archs = []archInfo{
	{arch: Llama, class: "LlamaForCausalLM", modelType: "llama",
		vocab: 32000, hidden: 4096, intermediate: 11008, layers: 32, heads: 32,
		maxPositions: 2048, eps: 1e-6, bos: 1, eos: 2},
	{arch: Mistral, class: "MistralForCausalLM", modelType: "mistral",
		vocab: 32000, hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8,
		maxPositions: 4096 * 32, eps: 1e-6, bos: 1, eos: 2, window: 4096},
	{arch: Qwen2, class: "Qwen2ForCausalLM", modelType: "qwen2",
		vocab: 151936, hidden: 4096, intermediate: 22016, layers: 32, heads: 32, kvHeads: 32,
		maxPositions: 32768, eps: 1e-6, bos: -1, eos: -1, window: 4096, maxWindowLayers: 28},
}

// SupportedArchitectures lists the config.json class names sota can run.
func SupportedArchitectures() []string {
	names := make([]string, len(archs))
	for i, a := range archs {
		names[i] = a.class
	}
	return names
}

func archByClass(class string) (archInfo, bool) {
	for _, a := range archs {
		if a.class == class {
			return a, true
		}
	}
	return archInfo{}, false
}

func archByArch(arch Arch) (archInfo, bool) {
	for _, a := range archs {
		if a.arch == arch {
			return a, true
		}
	}
	return archInfo{}, false
}

// Upper bounds that keep every size product far from overflowing int64.
const (
	maxDim    = 1 << 24 // hidden, intermediate, vocab, heads*headDim
	maxLayers = 1 << 12
	maxHeads  = 1 << 12
)

// ParseConfig reads a Hugging Face config.json (transformers v4 or v5 form),
// applies transformers' defaults for absent keys and validates the result.
func ParseConfig(data []byte) (Config, error) {
	o, err := parseObject("config.json", data)
	if err != nil {
		return Config{}, err
	}
	info, err := parseArch(o)
	if err != nil {
		return Config{}, err
	}
	c := Config{Architecture: info.class, Arch: info.arch}
	fields := []struct {
		dst *int
		key string
		def int
	}{
		{&c.VocabSize, "vocab_size", info.vocab},
		{&c.HiddenSize, "hidden_size", info.hidden},
		{&c.IntermediateSize, "intermediate_size", info.intermediate},
		{&c.NumLayers, "num_hidden_layers", info.layers},
		{&c.NumHeads, "num_attention_heads", info.heads},
		{&c.MaxPositionEmbeddings, "max_position_embeddings", info.maxPositions},
	}
	for _, f := range fields {
		if *f.dst, err = o.int(f.key, f.def); err != nil {
			return Config{}, err
		}
	}
	// num_key_value_heads: absent takes the class default, null means
	// "as many as attention heads" (transformers' __post_init__).
	kvDefault := info.kvHeads
	if kvDefault == 0 || o.isNull("num_key_value_heads") {
		kvDefault = c.NumHeads
	}
	if c.NumKVHeads, err = o.int("num_key_value_heads", kvDefault); err != nil {
		return Config{}, err
	}
	// head_dim: absent, null or 0 means hidden_size / num_attention_heads.
	if c.HeadDim, err = o.int("head_dim", 0); err != nil {
		return Config{}, err
	}
	if c.HeadDim == 0 && c.NumHeads > 0 {
		if c.HiddenSize%c.NumHeads != 0 {
			return Config{}, o.errf("hidden_size", "%d is not a multiple of num_attention_heads %d and no head_dim is given", c.HiddenSize, c.NumHeads)
		}
		c.HeadDim = c.HiddenSize / c.NumHeads
	}
	if c.RMSNormEps, err = o.float("rms_norm_eps", info.eps); err != nil {
		return Config{}, err
	}
	act, err := o.string("hidden_act", "silu")
	if err != nil {
		return Config{}, err
	}
	if act != "silu" {
		return Config{}, o.errf("hidden_act", "%q is not supported (only silu)", act)
	}
	if c.TieWordEmbeddings, err = o.bool("tie_word_embeddings", false); err != nil {
		return Config{}, err
	}
	if err := parseBiases(o, &c); err != nil {
		return Config{}, err
	}
	if err := parseRope(o, &c); err != nil {
		return Config{}, err
	}
	if err := parseWindow(o, info, &c); err != nil {
		return Config{}, err
	}
	bos := info.bos
	if o.isNull("bos_token_id") {
		bos = -1
	}
	if c.BOSTokenID, err = o.tokenID("bos_token_id", bos); err != nil {
		return Config{}, err
	}
	eos, ok, err := o.tokenIDs("eos_token_id")
	if err != nil {
		return Config{}, err
	}
	switch {
	case ok:
		c.EOSTokenIDs = eos
	case !o.present("eos_token_id") && info.eos >= 0:
		c.EOSTokenIDs = []int32{info.eos}
	}
	dtypeKey := "dtype" // transformers v5
	if !o.set(dtypeKey) {
		dtypeKey = "torch_dtype"
	}
	if c.TorchDType, err = o.string(dtypeKey, ""); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseArch picks the architecture from "architectures" (its first entry)
// or, when that is absent, from "model_type".
func parseArch(o object) (archInfo, error) {
	classes, err := o.strings("architectures")
	if err != nil {
		return archInfo{}, err
	}
	supported := strings.Join(SupportedArchitectures(), ", ")
	if len(classes) > 0 {
		info, ok := archByClass(classes[0])
		if !ok {
			return archInfo{}, fmt.Errorf("%w %q (supported: %s)", ErrUnsupportedArch, classes[0], supported)
		}
		return info, nil
	}
	mt, err := o.string("model_type", "")
	if err != nil {
		return archInfo{}, err
	}
	if mt == "" {
		return archInfo{}, fmt.Errorf("%w: config.json names no architectures and no model_type (supported: %s)", ErrUnsupportedArch, supported)
	}
	for _, a := range archs {
		if a.modelType == mt {
			return a, nil
		}
	}
	return archInfo{}, fmt.Errorf("%w: model_type %q (supported: %s)", ErrUnsupportedArch, mt, supported)
}

// parseBiases mirrors the modeling files: Qwen2 has q/k/v biases always and
// nothing else; Llama's attention_bias covers q/k/v and o, mlp_bias the
// MLP; Mistral has no biases.
func parseBiases(o object, c *Config) error {
	switch c.Arch {
	case Qwen2:
		c.AttentionBias = true
	case Llama:
		attn, err := o.bool("attention_bias", false)
		if err != nil {
			return err
		}
		mlp, err := o.bool("mlp_bias", false)
		if err != nil {
			return err
		}
		c.AttentionBias, c.AttentionOutBias, c.MLPBias = attn, attn, mlp
	}
	return nil
}

// parseWindow applies the sliding-window rules of the architecture.
//
// Mistral: sliding_window (absent: 4096, null: none) applies to every layer.
// Qwen2 (transformers' Qwen2Config.__post_init__): the window exists only
// when use_sliding_window is true; layer_types, when given, says which
// layers use it; otherwise layers i >= max_window_layers do.
// Llama has no sliding window.
func parseWindow(o object, info archInfo, c *Config) error {
	if c.Arch == Llama {
		return nil
	}
	window, err := o.int("sliding_window", info.window)
	if err != nil {
		return err
	}
	if o.isNull("sliding_window") {
		window = 0
	}
	if window < 0 {
		return o.errf("sliding_window", "negative window %d", window)
	}
	if c.Arch == Mistral {
		c.SlidingWindow = window
		return nil
	}
	use, err := o.bool("use_sliding_window", false)
	if err != nil {
		return err
	}
	if !use {
		window = 0
	}
	maxWindowLayers, err := o.int("max_window_layers", info.maxWindowLayers)
	if err != nil {
		return err
	}
	types, err := o.strings("layer_types")
	if err != nil {
		return err
	}
	if types != nil && len(types) != c.NumLayers {
		return o.errf("layer_types", "%d entries for %d layers", len(types), c.NumLayers)
	}
	if c.NumLayers < 0 || c.NumLayers > maxLayers {
		return nil // Validate reports it
	}
	layers := make([]bool, c.NumLayers)
	anySliding, all := false, true
	for i := range layers {
		if types != nil {
			switch types[i] {
			case "sliding_attention":
				layers[i] = true
			case "full_attention":
			default:
				return o.errf("layer_types", "unknown layer type %q (want full_attention or sliding_attention)", types[i])
			}
		} else {
			layers[i] = window > 0 && i >= maxWindowLayers
		}
		anySliding = anySliding || layers[i]
		all = all && layers[i]
	}
	switch {
	case !anySliding:
		c.SlidingWindow, c.WindowLayers = 0, nil
	case window == 0:
		return o.errf("layer_types", "has sliding_attention layers but use_sliding_window is false or sliding_window is null")
	case all:
		c.SlidingWindow, c.WindowLayers = window, nil
	default:
		c.SlidingWindow, c.WindowLayers = window, layers
	}
	return nil
}

// Validate checks that the config describes a model sota can build: a
// supported architecture, positive sizes within sane bounds, heads
// divisible by key/value heads, an even head size, and well-formed RoPE
// scaling and sliding-window settings.
func (c *Config) Validate() error {
	info, ok := archByArch(c.Arch)
	if !ok {
		return fmt.Errorf("%w %q (supported: %s)", ErrUnsupportedArch, c.Arch, strings.Join(SupportedArchitectures(), ", "))
	}
	if c.Architecture != "" && c.Architecture != info.class {
		return fmt.Errorf("%w: architecture %q does not match arch %q", ErrInvalidConfig, c.Architecture, c.Arch)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	sizes := []struct {
		name   string
		v, max int
	}{
		{"hidden_size", c.HiddenSize, maxDim},
		{"intermediate_size", c.IntermediateSize, maxDim},
		{"num_hidden_layers", c.NumLayers, maxLayers},
		{"num_attention_heads", c.NumHeads, maxHeads},
		{"num_key_value_heads", c.NumKVHeads, maxHeads},
		{"head_dim", c.HeadDim, maxDim},
		{"vocab_size", c.VocabSize, maxDim},
		{"max_position_embeddings", c.MaxPositionEmbeddings, math.MaxInt32},
	}
	for _, s := range sizes {
		if s.v <= 0 || s.v > s.max {
			return bad("%s = %d, want 1..%d", s.name, s.v, s.max)
		}
	}
	if c.NumHeads%c.NumKVHeads != 0 {
		return bad("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumHeads, c.NumKVHeads)
	}
	if c.HeadDim%2 != 0 {
		return bad("head_dim %d is odd; rotary embeddings need an even head size", c.HeadDim)
	}
	if c.NumHeads*c.HeadDim > maxDim {
		return bad("num_attention_heads*head_dim = %d exceeds %d", c.NumHeads*c.HeadDim, maxDim)
	}
	if !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0) {
		return bad("rms_norm_eps = %v, want a positive number", c.RMSNormEps)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return bad("rope_theta = %v, want a positive number", c.RopeTheta)
	}
	if err := c.RopeScaling.validate(); err != nil {
		return err
	}
	if c.SlidingWindow < 0 {
		return bad("sliding_window = %d, want >= 0", c.SlidingWindow)
	}
	if c.WindowLayers != nil && len(c.WindowLayers) != c.NumLayers {
		return bad("window layers has %d entries for %d layers", len(c.WindowLayers), c.NumLayers)
	}
	if c.BOSTokenID < -1 {
		return bad("bos_token_id = %d", c.BOSTokenID)
	}
	for _, id := range c.EOSTokenIDs {
		if id < 0 {
			return bad("eos_token_id %d is negative", id)
		}
	}
	return nil
}

// Window is the sliding attention window of a layer in tokens; 0 means full
// attention (also for a layer number out of range).
func (c *Config) Window(layer int) int {
	if c.SlidingWindow <= 0 || layer < 0 || layer >= c.NumLayers {
		return 0
	}
	if c.WindowLayers != nil && (layer >= len(c.WindowLayers) || !c.WindowLayers[layer]) {
		return 0
	}
	return c.SlidingWindow
}

// LoadConfigFile reads and parses a config.json; path may name the file or
// the folder holding it (for --random-weights).
func LoadConfigFile(path string) (Config, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	if fi.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("load config %s: %w", path, ErrNoConfig)
	}
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}
