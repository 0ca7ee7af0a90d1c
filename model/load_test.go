package model

import (
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/internal/testmodels"
)

// checkStories260k checks the shapes and a few values of stories260K.
func checkStories260k(t *testing.T, m *Model) {
	t.Helper()
	c := m.Config
	if c.Arch != Llama || c.HiddenSize != 64 || c.NumLayers != 5 || c.NumHeads != 8 || c.NumKVHeads != 4 ||
		c.HeadDim != 8 || c.VocabSize != 512 || c.IntermediateSize != 172 || !c.TieWordEmbeddings {
		t.Fatalf("config %+v", c)
	}
	w := m.Weights
	if len(w.Layers) != 5 {
		t.Fatalf("%d layers", len(w.Layers))
	}
	shapes := []struct {
		t    *Tensor
		want []int
	}{
		{w.Embed, []int{512, 64}}, {w.Norm, []int{64}}, {w.LMHead, []int{512, 64}},
		{w.Layers[4].Q, []int{64, 64}}, {w.Layers[4].K, []int{32, 64}}, {w.Layers[4].V, []int{32, 64}},
		{w.Layers[4].O, []int{64, 64}}, {w.Layers[0].Gate, []int{172, 64}}, {w.Layers[0].Up, []int{172, 64}},
		{w.Layers[0].Down, []int{64, 172}}, {w.Layers[2].AttnNorm, []int{64}}, {w.Layers[2].MLPNorm, []int{64}},
	}
	for _, s := range shapes {
		if s.t == nil || !slices.Equal(s.t.Shape, s.want) || s.t.DType != F32 {
			t.Errorf("tensor %+v, want shape %v F32", s.t, s.want)
		}
	}
	if w.LMHead != w.Embed {
		t.Error("tied LM head is not the embedding tensor")
	}
	l := w.Layers[0]
	if l.QBias != nil || l.OBias != nil || l.GateBias != nil {
		t.Error("stories260k has no biases")
	}
	norm, err := w.Norm.ToFloat32()
	if err != nil {
		t.Fatal(err)
	}
	nonzero := slices.ContainsFunc(norm, func(f float32) bool { return f != 0 })
	if !nonzero {
		t.Error("final norm is all zeros")
	}
	if !slices.Equal(m.EOSTokenIDs(), []int32{2}) || m.Generation.BOSTokenID != 1 || m.Generation.MaxLength != 512 {
		t.Errorf("eos %v generation %+v", m.EOSTokenIDs(), m.Generation)
	}
	if got := c.NumParams(); got < 250_000 || got > 300_000 {
		t.Errorf("NumParams %d", got)
	}
}

func TestLoadStories260k(t *testing.T) {
	dir := testmodels.Shared(t, "stories260k", "hf")
	for _, mmap := range []bool{true, false} {
		t.Run(map[bool]string{true: "mmap", false: "read"}[mmap], func(t *testing.T) {
			defer func(old bool) { mmapEnabled = old }(mmapEnabled)
			mmapEnabled = mmap
			m, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			checkStories260k(t, m)
			if m.Dir != dir {
				t.Errorf("Dir %q", m.Dir)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if err := m.Close(); err != nil || m.Weights.Embed != nil {
				t.Errorf("second Close: %v, weights kept: %v", err, m.Weights.Embed != nil)
			}
		})
	}
}

func TestLoadDemoFS(t *testing.T) {
	m, err := LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkStories260k(t, m)
	dir := testmodels.Shared(t, "stories260k", "hf")
	shared, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	a, _ := m.Weights.Layers[3].Down.ToFloat32()
	b, _ := shared.Weights.Layers[3].Down.ToFloat32()
	if !slices.Equal(a, b) {
		t.Error("embedded and shared stories260k differ")
	}
}

func TestLoadTiny(t *testing.T) {
	tests := []struct {
		dir        string
		arch       Arch
		dtype      DType
		headDim    int
		window     int
		tied, bias bool
		eos        []int32
	}{
		{"llama-tiny", Llama, F32, 16, 0, false, false, []int32{2, 3}},
		{"mistral-tiny", Mistral, F32, 32, 16, false, false, []int32{2}},
		{"qwen2-tiny", Qwen2, BF16, 16, 0, true, true, []int32{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			m, err := Load(testmodels.Testdata(t, tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			c := m.Config
			if c.Arch != tt.arch || c.HeadDim != tt.headDim || c.Window(1) != tt.window || c.TieWordEmbeddings != tt.tied ||
				c.AttentionBias != tt.bias || c.HiddenSize != 64 || c.NumLayers != 2 || c.VocabSize != 512 {
				t.Fatalf("config %+v", c)
			}
			l := m.Weights.Layers[1]
			if l.Q.DType != tt.dtype || !slices.Equal(l.Q.Shape, []int{4 * tt.headDim, 64}) || !slices.Equal(l.O.Shape, []int{64, 4 * tt.headDim}) {
				t.Errorf("q %v %v o %v", l.Q.DType, l.Q.Shape, l.O.Shape)
			}
			if (l.QBias != nil) != tt.bias || (l.KBias != nil) != tt.bias || l.OBias != nil {
				t.Errorf("biases q %v k %v o %v", l.QBias != nil, l.KBias != nil, l.OBias != nil)
			}
			if (m.Weights.LMHead == m.Weights.Embed) != tt.tied {
				t.Errorf("tied %v, LMHead == Embed %v", tt.tied, m.Weights.LMHead == m.Weights.Embed)
			}
			if !slices.Equal(m.EOSTokenIDs(), tt.eos) {
				t.Errorf("EOSTokenIDs %v, want %v", m.EOSTokenIDs(), tt.eos)
			}
			if _, err := m.Weights.Embed.ToFloat32(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// tinyModel writes a valid tiny checkpoint of class and returns its folder,
// config JSON and tensors for tests to break.
func tinyModel(t *testing.T, class string) (string, map[string]any, []stTensor) {
	t.Helper()
	cfgJSON := tinyConfigJSON(class)
	ts := checkpointTensors(t, mustParseConfig(t, cfgJSON))
	return writeModelDir(t, cfgJSON, ts), cfgJSON, ts
}

func TestLoadTinyWritten(t *testing.T) {
	for _, class := range SupportedArchitectures() {
		t.Run(class, func(t *testing.T) {
			dir, _, ts := tinyModel(t, class)
			m, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			// no generation_config.json: ids come from config.json
			if m.Generation.BOSTokenID != 1 || !slices.Equal(m.Generation.EOSTokenIDs, []int32{2}) {
				t.Errorf("generation %+v", m.Generation)
			}
			got, _ := m.Weights.Layers[1].Up.ToFloat32()
			for _, x := range ts {
				if x.name == "model.layers.1.mlp.up_proj.weight" && !slices.Equal(f32Bytes(got), x.data) {
					t.Error("up_proj of layer 1 differs from what was written")
				}
			}
		})
	}
}

func TestLoadHarmlessExtras(t *testing.T) {
	cfgJSON := tinyConfigJSON("LlamaForCausalLM")
	cfgJSON["tie_word_embeddings"] = true
	ts := checkpointTensors(t, mustParseConfig(t, cfgJSON))
	ts = append(ts,
		stTensor{"lm_head.weight", F32, []int{40, 16}, make([]byte, 40*16*4)},
		stTensor{"model.layers.0.self_attn.rotary_emb.inv_freq", F32, []int{2}, make([]byte, 8)},
	)
	m, err := Load(writeModelDir(t, cfgJSON, ts))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Weights.LMHead != m.Weights.Embed {
		t.Error("tied checkpoint with lm_head.weight: LMHead is not Embed")
	}
}

func TestLoadErrors(t *testing.T) {
	const class = "LlamaForCausalLM"
	replace := func(ts []stTensor, name string, f func(*stTensor)) []stTensor {
		out := slices.Clone(ts)
		for i := range out {
			if out[i].name == name {
				f(&out[i])
			}
		}
		return out
	}
	tests := []struct {
		name    string
		build   func(t *testing.T) string // returns the folder to load
		want    error
		mention []string
	}{
		{"missing folder", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, fs.ErrNotExist, []string{"nope"}},
		{"not a folder", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			return filepath.Join(dir, ConfigFile)
		}, nil, []string{"not a directory"}},
		{"missing config.json", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			os.Remove(filepath.Join(dir, ConfigFile))
			return dir
		}, ErrNoConfig, nil},
		{"bad config JSON", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			writeFile(t, filepath.Join(dir, ConfigFile), []byte(`{"hidden_size": `))
			return dir
		}, ErrInvalidConfig, []string{ConfigFile}},
		{"unknown architecture", func(t *testing.T) string {
			dir, cfgJSON, _ := tinyModel(t, class)
			cfgJSON["architectures"] = []string{"FalconForCausalLM"}
			writeFile(t, filepath.Join(dir, ConfigFile), mustJSON(t, cfgJSON))
			return dir
		}, ErrUnsupportedArch, []string{"FalconForCausalLM", "Qwen2ForCausalLM"}},
		{"bad generation_config.json", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			writeFile(t, filepath.Join(dir, GenerationConfigFile), []byte(`{"eos_token_id": "x"}`))
			return dir
		}, ErrInvalidConfig, []string{GenerationConfigFile}},
		{"no weights file", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			os.Remove(filepath.Join(dir, WeightsFile))
			return dir
		}, ErrNoWeights, nil},
		{"truncated data", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			p := filepath.Join(dir, WeightsFile)
			data, _ := os.ReadFile(p)
			writeFile(t, p, data[:len(data)-10])
			return dir
		}, ErrTruncated, []string{WeightsFile, "lm_head.weight"}},
		{"header length past EOF", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			p := filepath.Join(dir, WeightsFile)
			data, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint64(data, uint64(len(data)))
			writeFile(t, p, data)
			return dir
		}, ErrTruncated, []string{WeightsFile}},
		{"empty weights file", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			writeFile(t, filepath.Join(dir, WeightsFile), nil)
			return dir
		}, ErrTruncated, []string{WeightsFile}},
		{"bad header JSON", func(t *testing.T) string {
			dir, _, _ := tinyModel(t, class)
			writeFile(t, filepath.Join(dir, WeightsFile), rawFile(`{"model.norm.weight": {`, nil))
			return dir
		}, ErrBadHeader, []string{WeightsFile}},
		{"unknown dtype I8", func(t *testing.T) string {
			cfgJSON := tinyConfigJSON(class)
			ts := replace(checkpointTensors(t, mustParseConfig(t, cfgJSON)), "model.norm.weight", func(x *stTensor) {
				x.dtype, x.data = "I8", make([]byte, 16)
			})
			return writeModelDir(t, cfgJSON, ts)
		}, ErrUnsupportedDType, []string{"model.norm.weight", "I8"}},
		{"shape mismatch", func(t *testing.T) string {
			cfgJSON := tinyConfigJSON(class)
			ts := replace(checkpointTensors(t, mustParseConfig(t, cfgJSON)), "model.layers.1.self_attn.k_proj.weight", func(x *stTensor) {
				x.shape = []int{16, 8}
			})
			return writeModelDir(t, cfgJSON, ts)
		}, ErrShapeMismatch, []string{"model.layers.1.self_attn.k_proj.weight", "[16 8]", "[8 16]"}},
		{"missing tensor", func(t *testing.T) string {
			cfgJSON := tinyConfigJSON(class)
			ts := checkpointTensors(t, mustParseConfig(t, cfgJSON))
			ts = slices.DeleteFunc(ts, func(x stTensor) bool { return x.name == "model.layers.0.mlp.down_proj.weight" })
			return writeModelDir(t, cfgJSON, ts)
		}, ErrMissingTensor, []string{"model.layers.0.mlp.down_proj.weight", WeightsFile}},
		{"untied checkpoint lacks lm_head", func(t *testing.T) string {
			cfgJSON := tinyConfigJSON(class)
			ts := checkpointTensors(t, mustParseConfig(t, cfgJSON))
			ts = slices.DeleteFunc(ts, func(x stTensor) bool { return x.name == "lm_head.weight" })
			return writeModelDir(t, cfgJSON, ts)
		}, ErrMissingTensor, []string{"lm_head.weight"}},
		{"extra tensor", func(t *testing.T) string {
			cfgJSON := tinyConfigJSON(class)
			ts := checkpointTensors(t, mustParseConfig(t, cfgJSON))
			ts = append(ts, stTensor{"model.layers.0.self_attn.q_norm.weight", F32, []int{4}, make([]byte, 16)})
			return writeModelDir(t, cfgJSON, ts)
		}, ErrUnexpectedTensor, []string{"model.layers.0.self_attn.q_norm.weight"}},
		{"bias the config does not have", func(t *testing.T) string {
			cfgJSON := tinyConfigJSON(class)
			ts := checkpointTensors(t, mustParseConfig(t, cfgJSON))
			ts = append(ts, stTensor{"model.layers.1.self_attn.q_proj.bias", F32, []int{16}, make([]byte, 64)})
			return writeModelDir(t, cfgJSON, ts)
		}, ErrUnexpectedTensor, []string{"q_proj.bias"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(tt.build(t))
			if err == nil {
				m.Close()
			}
			wantErr(t, err, tt.want, tt.mention...)
		})
	}
}

// writeSharded splits ts over two shards with an index; edit may change the
// weight map before it is written.
func writeSharded(t *testing.T, cfgJSON map[string]any, ts []stTensor, edit func(weightMap map[string]string)) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ConfigFile), mustJSON(t, cfgJSON))
	half := len(ts) / 2
	shards := map[string][]stTensor{"model-00001-of-00002.safetensors": ts[:half], "model-00002-of-00002.safetensors": ts[half:]}
	weightMap := map[string]string{}
	for file, part := range shards {
		writeFile(t, filepath.Join(dir, file), encodeSafetensors(t, part))
		for _, x := range part {
			weightMap[x.name] = file
		}
	}
	if edit != nil {
		edit(weightMap)
	}
	index := map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap}
	writeFile(t, filepath.Join(dir, WeightsIndexFile), mustJSON(t, index))
	return dir
}

func TestLoadSharded(t *testing.T) {
	cfgJSON := tinyConfigJSON("Qwen2ForCausalLM")
	ts := checkpointTensors(t, mustParseConfig(t, cfgJSON))
	m, err := Load(writeSharded(t, cfgJSON, ts, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.closers) != 2 {
		t.Errorf("%d shards mapped, want 2", len(m.closers))
	}
	for _, x := range ts {
		if x.name != "model.layers.0.self_attn.v_proj.bias" && x.name != "lm_head.weight" {
			continue
		}
		var tensor *Tensor
		if x.name == "lm_head.weight" {
			tensor = m.Weights.LMHead
		} else {
			tensor = m.Weights.Layers[0].VBias
		}
		v, _ := tensor.ToFloat32()
		if !slices.Equal(f32Bytes(v), x.data) {
			t.Errorf("%s differs from what was written", x.name)
		}
	}

	tests := []struct {
		name    string
		edit    func(weightMap map[string]string)
		want    error
		mention []string
	}{
		{"index lists a tensor no shard holds", func(w map[string]string) { w["model.ghost.weight"] = "model-00001-of-00002.safetensors" },
			ErrMissingTensor, []string{"model.ghost.weight"}},
		{"index places a tensor in the wrong shard", func(w map[string]string) { w["model.norm.weight"] = "model-00001-of-00002.safetensors" },
			ErrInvalidConfig, []string{"model.norm.weight", WeightsIndexFile}},
		{"shard file missing", func(w map[string]string) { w["model.norm.weight"] = "model-00003-of-00003.safetensors" },
			fs.ErrNotExist, []string{"model-00003-of-00003.safetensors"}},
		{"shard outside the folder", func(w map[string]string) { w["model.norm.weight"] = "../model.safetensors" },
			ErrInvalidConfig, []string{"../model.safetensors"}},
		{"empty weight map", func(w map[string]string) { clear(w) }, ErrInvalidConfig, []string{"weight_map"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(writeSharded(t, cfgJSON, ts, tt.edit))
			if err == nil {
				m.Close()
			}
			wantErr(t, err, tt.want, tt.mention...)
		})
	}
	t.Run("corrupt index", func(t *testing.T) {
		dir := writeSharded(t, cfgJSON, ts, nil)
		writeFile(t, filepath.Join(dir, WeightsIndexFile), []byte(`{"weight_map": [`))
		_, err := Load(dir)
		wantErr(t, err, ErrInvalidConfig, WeightsIndexFile)
	})
}

func TestLoadFSErrors(t *testing.T) {
	cfg := mustJSON(t, tinyConfigJSON("MistralForCausalLM"))
	tests := []struct {
		name string
		fsys fstest.MapFS
		want error
	}{
		{"empty", fstest.MapFS{}, ErrNoConfig},
		{"config only", fstest.MapFS{ConfigFile: {Data: cfg}}, ErrNoWeights},
		{"garbage weights", fstest.MapFS{ConfigFile: {Data: cfg}, WeightsFile: {Data: []byte("garbage!garbage")}}, ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFS(tt.fsys)
			wantErr(t, err, tt.want)
		})
	}
}
