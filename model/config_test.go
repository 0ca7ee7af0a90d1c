package model

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

func TestParseSharedConfigs(t *testing.T) {
	dir := testmodels.Shared(t, "configs")
	tests := []struct {
		file                      string
		arch                      Arch
		hidden, layers, heads, kv int
		headDim, vocab            int
		theta                     float64
		rope                      *RopeScaling
		window                    int
		qkvBias                   bool
		eos                       []int32
		bos                       int32
		params                    int64 // 0: not checked
	}{
		{"llama-3.1-8b-instruct.json", Llama, 4096, 32, 32, 8, 128, 128256, 500000,
			&RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
			0, false, []int32{128001, 128008, 128009}, 128000, 8030261248},
		{"llama-3.1-70b-instruct.json", Llama, 8192, 80, 64, 8, 128, 128256, 500000,
			&RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
			0, false, []int32{128001, 128008, 128009}, 128000, 70553706496},
		{"mistral-7b-v0.1.json", Mistral, 4096, 32, 32, 8, 128, 32000, 10000, nil, 4096, false, []int32{2}, 1, 7241732096},
		{"mistral-7b-instruct-v0.3.json", Mistral, 4096, 32, 32, 8, 128, 32768, 1e6, nil, 0, false, []int32{2}, 1, 7248023552},
		{"mistral-large-instruct-2407.json", Mistral, 12288, 88, 96, 8, 128, 32768, 1e6, nil, 0, false, []int32{2}, 1, 0},
		{"qwen2.5-7b-instruct.json", Qwen2, 3584, 28, 28, 4, 128, 152064, 1e6, nil, 0, true, []int32{151645}, 151643, 7615616512},
		{"qwen2.5-72b-instruct.json", Qwen2, 8192, 80, 64, 8, 128, 152064, 1e6, nil, 0, true, []int32{151645}, 151643, 72706203648},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := LoadConfigFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := []int{c.HiddenSize, c.NumLayers, c.NumHeads, c.NumKVHeads, c.HeadDim, c.VocabSize}
			want := []int{tt.hidden, tt.layers, tt.heads, tt.kv, tt.headDim, tt.vocab}
			if !slices.Equal(got, want) {
				t.Errorf("hidden, layers, heads, kv, headDim, vocab = %v, want %v", got, want)
			}
			if c.Arch != tt.arch || c.RopeTheta != tt.theta {
				t.Errorf("arch %q theta %v, want %q %v", c.Arch, c.RopeTheta, tt.arch, tt.theta)
			}
			if (c.RopeScaling == nil) != (tt.rope == nil) || (tt.rope != nil && *c.RopeScaling != *tt.rope) {
				t.Errorf("rope scaling %+v, want %+v", c.RopeScaling, tt.rope)
			}
			for l := 0; l < c.NumLayers; l++ {
				if w := c.Window(l); w != tt.window {
					t.Fatalf("Window(%d) = %d, want %d", l, w, tt.window)
				}
			}
			if c.AttentionBias != tt.qkvBias || c.AttentionOutBias || c.MLPBias {
				t.Errorf("biases qkv %v o %v mlp %v, want qkv %v only", c.AttentionBias, c.AttentionOutBias, c.MLPBias, tt.qkvBias)
			}
			if !slices.Equal(c.EOSTokenIDs, tt.eos) || c.BOSTokenID != tt.bos {
				t.Errorf("bos %d eos %v, want %d %v", c.BOSTokenID, c.EOSTokenIDs, tt.bos, tt.eos)
			}
			if c.TorchDType != "bfloat16" || c.TieWordEmbeddings {
				t.Errorf("dtype %q tied %v", c.TorchDType, c.TieWordEmbeddings)
			}
			if tt.params != 0 && c.NumParams() != tt.params {
				t.Errorf("NumParams = %d, want %d", c.NumParams(), tt.params)
			}
		})
	}
}

func TestParseConfigForms(t *testing.T) {
	tests := []struct {
		name  string
		class string
		edit  func(m map[string]any)
		check func(t *testing.T, c Config)
	}{
		{"v5 rope_parameters llama3 and dtype", "LlamaForCausalLM", func(m map[string]any) {
			delete(m, "rope_theta")
			delete(m, "torch_dtype")
			m["dtype"] = "bfloat16"
			m["rope_parameters"] = map[string]any{"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
				"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
		}, func(t *testing.T, c Config) {
			want := RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}
			if c.RopeScaling == nil || *c.RopeScaling != want || c.RopeTheta != 500000 || c.TorchDType != "bfloat16" {
				t.Errorf("rope %+v theta %v dtype %q", c.RopeScaling, c.RopeTheta, c.TorchDType)
			}
		}},
		{"v5 default rope", "MistralForCausalLM", func(m map[string]any) {
			delete(m, "rope_theta")
			m["rope_parameters"] = map[string]any{"rope_type": "default", "rope_theta": 1e6}
			m["sliding_window"] = nil
		}, func(t *testing.T, c Config) {
			if c.RopeScaling != nil || c.RopeTheta != 1e6 || c.SlidingWindow != 0 {
				t.Errorf("rope %+v theta %v window %d", c.RopeScaling, c.RopeTheta, c.SlidingWindow)
			}
		}},
		{"legacy type key, linear", "LlamaForCausalLM", func(m map[string]any) {
			m["rope_scaling"] = map[string]any{"type": "linear", "factor": 4}
		}, func(t *testing.T, c Config) {
			if c.RopeScaling == nil || c.RopeScaling.Type != "linear" || c.RopeScaling.Factor != 4 {
				t.Errorf("rope %+v", c.RopeScaling)
			}
		}},
		{"llama3 original max defaults to max_position_embeddings", "LlamaForCausalLM", func(m map[string]any) {
			m["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4}
		}, func(t *testing.T, c Config) {
			if c.RopeScaling.OriginalMaxPositionEmbeddings != 64 {
				t.Errorf("original max %d, want 64", c.RopeScaling.OriginalMaxPositionEmbeddings)
			}
		}},
		{"null rope_scaling, absent theta", "LlamaForCausalLM", func(m map[string]any) {
			m["rope_scaling"] = nil
			delete(m, "rope_theta")
		}, func(t *testing.T, c Config) {
			if c.RopeScaling != nil || c.RopeTheta != 10000 {
				t.Errorf("rope %+v theta %v", c.RopeScaling, c.RopeTheta)
			}
		}},
		{"llama defaults: kv heads, head_dim, bos/eos", "LlamaForCausalLM", func(m map[string]any) {
			for _, k := range []string{"num_key_value_heads", "bos_token_id", "eos_token_id", "rms_norm_eps", "hidden_act"} {
				delete(m, k)
			}
		}, func(t *testing.T, c Config) {
			if c.NumKVHeads != 4 || c.HeadDim != 4 || c.BOSTokenID != 1 || !slices.Equal(c.EOSTokenIDs, []int32{2}) || c.RMSNormEps != 1e-6 {
				t.Errorf("kv %d headDim %d bos %d eos %v eps %v", c.NumKVHeads, c.HeadDim, c.BOSTokenID, c.EOSTokenIDs, c.RMSNormEps)
			}
		}},
		{"null ids and kv heads", "Qwen2ForCausalLM", func(m map[string]any) {
			m["bos_token_id"], m["eos_token_id"], m["num_key_value_heads"] = nil, nil, nil
		}, func(t *testing.T, c Config) {
			if c.BOSTokenID != -1 || c.EOSTokenIDs != nil || c.NumKVHeads != 4 {
				t.Errorf("bos %d eos %v kv %d", c.BOSTokenID, c.EOSTokenIDs, c.NumKVHeads)
			}
		}},
		{"llama biases", "LlamaForCausalLM", func(m map[string]any) {
			m["attention_bias"], m["mlp_bias"] = true, true
		}, func(t *testing.T, c Config) {
			if !c.AttentionBias || !c.AttentionOutBias || !c.MLPBias {
				t.Errorf("biases %v %v %v", c.AttentionBias, c.AttentionOutBias, c.MLPBias)
			}
		}},
		{"mistral window absent defaults to 4096", "MistralForCausalLM", func(m map[string]any) {}, func(t *testing.T, c Config) {
			if c.Window(0) != 4096 || c.Window(1) != 4096 || c.Window(2) != 0 || c.Window(-1) != 0 {
				t.Errorf("windows %d %d %d", c.Window(0), c.Window(1), c.Window(2))
			}
		}},
		{"model_type without architectures", "", func(m map[string]any) {
			delete(m, "architectures")
			m["model_type"] = "qwen2"
		}, func(t *testing.T, c Config) {
			if c.Arch != Qwen2 || c.Architecture != "Qwen2ForCausalLM" || !c.AttentionBias || c.AttentionOutBias {
				t.Errorf("arch %q %q biases %v %v", c.Arch, c.Architecture, c.AttentionBias, c.AttentionOutBias)
			}
		}},
		{"integral floats", "LlamaForCausalLM", func(m map[string]any) {
			m["hidden_size"] = 16.0
		}, func(t *testing.T, c Config) {
			if c.HiddenSize != 16 {
				t.Errorf("hidden %d", c.HiddenSize)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tinyConfigJSON(tt.class)
			tt.edit(m)
			tt.check(t, mustParseConfig(t, m))
		})
	}
}

func TestQwen2Window(t *testing.T) {
	tests := []struct {
		name string
		edit map[string]any
		want []int // per layer, 4 layers
	}{
		{"off by default", map[string]any{"sliding_window": 8}, []int{0, 0, 0, 0}},
		{"use_sliding_window false", map[string]any{"use_sliding_window": false, "sliding_window": 8, "max_window_layers": 0}, []int{0, 0, 0, 0}},
		{"layers >= max_window_layers", map[string]any{"use_sliding_window": true, "sliding_window": 8, "max_window_layers": 2}, []int{0, 0, 8, 8}},
		{"all layers", map[string]any{"use_sliding_window": true, "sliding_window": 8, "max_window_layers": 0}, []int{8, 8, 8, 8}},
		{"max_window_layers default 28", map[string]any{"use_sliding_window": true, "sliding_window": 8}, []int{0, 0, 0, 0}},
		{"window absent defaults to 4096", map[string]any{"use_sliding_window": true, "max_window_layers": 3}, []int{0, 0, 0, 4096}},
		{"null window", map[string]any{"use_sliding_window": true, "sliding_window": nil, "max_window_layers": 0}, []int{0, 0, 0, 0}},
		{"layer_types win over max_window_layers", map[string]any{"use_sliding_window": true, "sliding_window": 8, "max_window_layers": 0,
			"layer_types": []string{"full_attention", "sliding_attention", "full_attention", "sliding_attention"}}, []int{0, 8, 0, 8}},
		{"layer_types all full", map[string]any{"sliding_window": nil,
			"layer_types": []string{"full_attention", "full_attention", "full_attention", "full_attention"}}, []int{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tinyConfigJSON("Qwen2ForCausalLM")
			m["num_hidden_layers"] = 4
			for k, v := range tt.edit {
				m[k] = v
			}
			c := mustParseConfig(t, m)
			var got []int
			for l := 0; l < 4; l++ {
				got = append(got, c.Window(l))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("windows %v, want %v (config %+v)", got, tt.want, c)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		class   string
		edit    map[string]any
		raw     string // used instead of the edited config when set
		want    error
		mention []string
	}{
		{"bad JSON", "", nil, `{"architectures": [`, ErrInvalidConfig, nil},
		{"not an object", "", nil, `[1, 2]`, ErrInvalidConfig, nil},
		{"JSON null", "", nil, `null`, ErrInvalidConfig, nil},
		{"unknown architecture", "GPT2LMHeadModel", nil, "", ErrUnsupportedArch, []string{"GPT2LMHeadModel", "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"}},
		{"unknown model_type", "", map[string]any{"architectures": nil, "model_type": "gemma"}, "", ErrUnsupportedArch, []string{"gemma"}},
		{"no architecture at all", "", map[string]any{"architectures": nil}, "", ErrUnsupportedArch, nil},
		{"gelu", "LlamaForCausalLM", map[string]any{"hidden_act": "gelu"}, "", ErrInvalidConfig, []string{"hidden_act", "gelu"}},
		{"yarn", "Qwen2ForCausalLM", map[string]any{"rope_scaling": map[string]any{"type": "yarn", "factor": 4, "original_max_position_embeddings": 32768}}, "", ErrUnsupportedRope, []string{"yarn"}},
		{"dynamic", "LlamaForCausalLM", map[string]any{"rope_parameters": map[string]any{"rope_type": "dynamic", "factor": 2}}, "", ErrUnsupportedRope, []string{"dynamic"}},
		{"linear without factor", "LlamaForCausalLM", map[string]any{"rope_scaling": map[string]any{"rope_type": "linear"}}, "", ErrInvalidConfig, []string{"factor"}},
		{"llama3 without high_freq_factor", "LlamaForCausalLM", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8, "low_freq_factor": 1}}, "", ErrInvalidConfig, []string{"high_freq_factor"}},
		{"llama3 high <= low", "LlamaForCausalLM", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8, "low_freq_factor": 4, "high_freq_factor": 4}}, "", ErrInvalidConfig, nil},
		{"partial rotary", "LlamaForCausalLM", map[string]any{"partial_rotary_factor": 0.5}, "", ErrUnsupportedRope, nil},
		{"kv heads do not divide heads", "LlamaForCausalLM", map[string]any{"num_key_value_heads": 3}, "", ErrInvalidConfig, []string{"num_key_value_heads"}},
		{"zero hidden", "LlamaForCausalLM", map[string]any{"hidden_size": 0, "head_dim": 4}, "", ErrInvalidConfig, []string{"hidden_size"}},
		{"negative layers", "LlamaForCausalLM", map[string]any{"num_hidden_layers": -1}, "", ErrInvalidConfig, []string{"num_hidden_layers"}},
		{"huge vocab", "LlamaForCausalLM", map[string]any{"vocab_size": 1 << 30}, "", ErrInvalidConfig, []string{"vocab_size"}},
		{"hidden not a multiple of heads", "LlamaForCausalLM", map[string]any{"hidden_size": 18}, "", ErrInvalidConfig, []string{"hidden_size"}},
		{"odd head_dim", "MistralForCausalLM", map[string]any{"head_dim": 5}, "", ErrInvalidConfig, []string{"head_dim"}},
		{"fractional size", "LlamaForCausalLM", map[string]any{"hidden_size": 16.5}, "", ErrInvalidConfig, []string{"hidden_size"}},
		{"string size", "LlamaForCausalLM", map[string]any{"vocab_size": "40"}, "", ErrInvalidConfig, []string{"vocab_size"}},
		{"bad eos", "LlamaForCausalLM", map[string]any{"eos_token_id": []any{2, "x"}}, "", ErrInvalidConfig, []string{"eos_token_id"}},
		{"negative eos", "LlamaForCausalLM", map[string]any{"eos_token_id": -2}, "", ErrInvalidConfig, []string{"eos_token_id"}},
		{"negative window", "MistralForCausalLM", map[string]any{"sliding_window": -1}, "", ErrInvalidConfig, []string{"sliding_window"}},
		{"zero eps", "LlamaForCausalLM", map[string]any{"rms_norm_eps": 0}, "", ErrInvalidConfig, []string{"rms_norm_eps"}},
		{"layer_types length", "Qwen2ForCausalLM", map[string]any{"layer_types": []string{"full_attention"}}, "", ErrInvalidConfig, []string{"layer_types"}},
		{"layer_types unknown", "Qwen2ForCausalLM", map[string]any{"layer_types": []string{"full_attention", "chunked_attention"}}, "", ErrInvalidConfig, []string{"chunked_attention"}},
		{"sliding layer without window", "Qwen2ForCausalLM", map[string]any{"layer_types": []string{"full_attention", "sliding_attention"}}, "", ErrInvalidConfig, []string{"use_sliding_window"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.raw == "" {
				m := tinyConfigJSON(tt.class)
				for k, v := range tt.edit {
					m[k] = v
				}
				data = mustJSON(t, m)
			}
			_, err := ParseConfig(data)
			wantErr(t, err, tt.want, tt.mention...)
		})
	}
}

func TestValidateHandMade(t *testing.T) {
	good := Config{Arch: Llama, HiddenSize: 16, IntermediateSize: 24, NumLayers: 2, NumHeads: 4, NumKVHeads: 2,
		HeadDim: 4, VocabSize: 40, MaxPositionEmbeddings: 64, RMSNormEps: 1e-5, RopeTheta: 1e4, BOSTokenID: -1}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid hand-made config: %v", err)
	}
	tests := []struct {
		name string
		edit func(c *Config)
		want error
	}{
		{"no arch", func(c *Config) { c.Arch = "" }, ErrUnsupportedArch},
		{"class mismatch", func(c *Config) { c.Architecture = "Qwen2ForCausalLM" }, ErrInvalidConfig},
		{"window layers length", func(c *Config) { c.SlidingWindow, c.WindowLayers = 4, []bool{true} }, ErrInvalidConfig},
		{"unknown rope type", func(c *Config) { c.RopeScaling = &RopeScaling{Type: "yarn", Factor: 2} }, ErrUnsupportedRope},
		{"zero linear factor", func(c *Config) { c.RopeScaling = &RopeScaling{Type: "linear"} }, ErrInvalidConfig},
		{"zero theta", func(c *Config) { c.RopeTheta = 0 }, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			wantErr(t, c.Validate(), tt.want)
		})
	}
}

func TestParseGenerationConfig(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, g GenerationConfig)
		want  error
	}{
		{"llama 3.1", `{"bos_token_id": 128000, "do_sample": true, "eos_token_id": [128001, 128008, 128009], "temperature": 0.6, "top_p": 0.9}`,
			func(t *testing.T, g GenerationConfig) {
				if g.BOSTokenID != 128000 || !g.DoSample || *g.Temperature != 0.6 || *g.TopP != 0.9 || g.TopK != nil ||
					!slices.Equal(g.EOSTokenIDs, []int32{128001, 128008, 128009}) {
					t.Errorf("%+v", g)
				}
			}, nil},
		{"single eos, max_length", `{"bos_token_id": 1, "eos_token_id": 2, "max_length": 512, "top_k": 40, "repetition_penalty": 1.1, "max_new_tokens": 9}`,
			func(t *testing.T, g GenerationConfig) {
				if !slices.Equal(g.EOSTokenIDs, []int32{2}) || g.MaxLength != 512 || *g.TopK != 40 || *g.RepetitionPenalty != 1.1 || g.MaxNewTokens != 9 {
					t.Errorf("%+v", g)
				}
			}, nil},
		{"empty", `{}`, func(t *testing.T, g GenerationConfig) {
			if g.BOSTokenID != -1 || g.EOSTokenIDs != nil || g.Temperature != nil {
				t.Errorf("%+v", g)
			}
		}, nil},
		{"bad json", `{"eos_token_id": `, nil, ErrInvalidConfig},
		{"top_p above 1", `{"top_p": 1.5}`, nil, ErrInvalidConfig},
		{"negative top_k", `{"top_k": -1}`, nil, ErrInvalidConfig},
		{"eos string", `{"eos_token_id": "2"}`, nil, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseGenerationConfig([]byte(tt.json))
			if tt.want != nil {
				wantErr(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, g)
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ConfigFile), mustJSON(t, tinyConfigJSON("LlamaForCausalLM")))
	for _, p := range []string{dir, filepath.Join(dir, ConfigFile)} {
		c, err := LoadConfigFile(p)
		if err != nil || c.HiddenSize != 16 {
			t.Errorf("LoadConfigFile(%s) = %+v, %v", p, c, err)
		}
	}
	empty := t.TempDir()
	_, err := LoadConfigFile(empty)
	wantErr(t, err, ErrNoConfig, empty)
	_, err = LoadConfigFile(filepath.Join(empty, "nope.json"))
	wantErr(t, err, os.ErrNotExist, "nope.json")
	writeFile(t, filepath.Join(empty, "bad.json"), []byte(`{"architectures": ["BertModel"]}`))
	_, err = LoadConfigFile(filepath.Join(empty, "bad.json"))
	wantErr(t, err, ErrUnsupportedArch, "bad.json", "BertModel")
}
