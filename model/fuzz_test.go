package model

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseHeader(f *testing.F) {
	f.Add(encodeSafetensors(f, []stTensor{
		{"a", F32, []int{2}, f32Bytes([]float32{1, 2})},
		{"b", BF16, []int{1, 3}, make([]byte, 6)},
	}))
	f.Add(rawFile(`{"t": {"dtype": "I8", "shape": [4], "data_offsets": [0, 4]}}`, make([]byte, 4)))
	f.Add(rawFile(`{"__metadata__": {"format": "pt"}}`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(encodeSafetensors(f, []stTensor{
		{"model.layers.0.self_attn.q_proj.weight", F16, []int{2, 2}, make([]byte, 8)},
		{"model.norm.weight", F32, []int{2}, make([]byte, 8)},
		{"empty", BF16, []int{0, 3}, nil},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data, int64(len(data)))
		if err != nil {
			return
		}
		for _, x := range h.Tensors {
			begin, end := h.DataOffset+x.Begin, h.DataOffset+x.End
			if begin < h.DataOffset || end > int64(len(data)) || begin > end {
				t.Fatalf("tensor %s: range [%d, %d) outside the file", x.Name, begin, end)
			}
			tensor, err := NewTensor(x.Name, x.DType, x.Shape, data[begin:end])
			if err != nil {
				t.Fatalf("accepted header gives a bad tensor: %v", err)
			}
			if tensor.NumElements() <= 1<<16 {
				if _, err := tensor.ToFloat32(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add(mustJSON(f, tinyConfigJSON("LlamaForCausalLM")))
	f.Add(mustJSON(f, tinyConfigJSON("MistralForCausalLM")))
	q := tinyConfigJSON("Qwen2ForCausalLM")
	q["use_sliding_window"], q["sliding_window"], q["max_window_layers"] = true, 8, 1
	f.Add(mustJSON(f, q))
	l := tinyConfigJSON("LlamaForCausalLM")
	l["rope_parameters"] = map[string]any{"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4}
	f.Add(mustJSON(f, l))
	for _, name := range []string{"llama-3.1-8b-instruct.json", "qwen2.5-7b-instruct.json", "mistral-7b-v0.1.json"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "shared", "models", "configs", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig returned a config Validate rejects: %v", err)
		}
		inv := c.RopeInvFreq()
		if len(inv) != c.HeadDim/2 {
			t.Fatalf("%d inverse frequencies for head_dim %d", len(inv), c.HeadDim)
		}
		for l := -1; l <= c.NumLayers && l < 64; l++ {
			if w := c.Window(l); w < 0 {
				t.Fatalf("Window(%d) = %d", l, w)
			}
		}
		if c.NumLayers <= 64 {
			if specs := c.ExpectedTensors(); len(specs) < 2+9*c.NumLayers {
				t.Fatalf("%d tensors for %d layers", len(specs), c.NumLayers)
			}
			if c.NumParams() <= 0 {
				t.Fatalf("NumParams %d", c.NumParams())
			}
		}
	})
}
