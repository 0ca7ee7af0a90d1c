package model

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stTensor is one tensor to write into a test safetensors file.
type stTensor struct {
	name  string
	dtype DType
	shape []int
	data  []byte
}

// encodeSafetensors lays tensors out in the given order after a JSON header.
func encodeSafetensors(t testing.TB, ts []stTensor) []byte {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, x := range ts {
		begin := len(data)
		data = append(data, x.data...)
		header[x.name] = map[string]any{"dtype": string(x.dtype), "shape": x.shape, "data_offsets": []int{begin, len(data)}}
	}
	js, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(out, js...)
	return append(out, data...)
}

// f32Bytes encodes values as little-endian float32.
func f32Bytes(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out
}

// tinyConfigJSON is a small valid config of the given class, as a map the
// tests mutate before writing.
func tinyConfigJSON(class string) map[string]any {
	return map[string]any{
		"architectures":           []string{class},
		"hidden_size":             16,
		"intermediate_size":       24,
		"num_hidden_layers":       2,
		"num_attention_heads":     4,
		"num_key_value_heads":     2,
		"vocab_size":              40,
		"max_position_embeddings": 64,
		"rms_norm_eps":            1e-5,
		"rope_theta":              10000.0,
		"hidden_act":              "silu",
		"tie_word_embeddings":     false,
		"bos_token_id":            1,
		"eos_token_id":            2,
		"torch_dtype":             "float32",
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParseConfig(t testing.TB, v map[string]any) Config {
	t.Helper()
	c, err := ParseConfig(mustJSON(t, v))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return c
}

// checkpointTensors makes the full tensor list of cfg with deterministic
// values (from Random), stored as F32.
func checkpointTensors(t testing.TB, cfg Config) []stTensor {
	t.Helper()
	rm, err := Random(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Tensor{}
	collect := func(ts ...*Tensor) {
		for _, x := range ts {
			if x != nil {
				byName[x.Name] = x
			}
		}
	}
	collect(rm.Weights.Embed, rm.Weights.Norm, rm.Weights.LMHead)
	for _, l := range rm.Weights.Layers {
		collect(l.AttnNorm, l.Q, l.K, l.V, l.O, l.QBias, l.KBias, l.VBias, l.OBias,
			l.MLPNorm, l.Gate, l.Up, l.Down, l.GateBias, l.UpBias, l.DownBias)
	}
	var out []stTensor
	for _, s := range cfg.ExpectedTensors() {
		v, err := byName[s.Name].ToFloat32()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stTensor{name: s.Name, dtype: F32, shape: s.Shape, data: f32Bytes(v)})
	}
	return out
}

// writeModelDir writes config.json and a single model.safetensors into a
// new temporary folder and returns it.
func writeModelDir(t testing.TB, cfgJSON map[string]any, ts []stTensor) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ConfigFile), mustJSON(t, cfgJSON))
	writeFile(t, filepath.Join(dir, WeightsFile), encodeSafetensors(t, ts))
	return dir
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantErr checks err wraps want and mentions every string of mention.
func wantErr(t testing.TB, err, want error, mention ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("got error %q, want one wrapping %q", err, want)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}
