package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Model is a checkpoint ready to run: its architecture, its generation
// defaults and its weights. Tensors of a loaded model view the memory-mapped
// files and are valid until Close.
type Model struct {
	Dir        string // folder it was loaded from; "" for LoadFS and Random
	Config     Config
	Generation GenerationConfig
	Weights    Weights

	closers []func() error // unmap the shards
}

// File names of a Hugging Face checkpoint folder.
const (
	ConfigFile           = "config.json"
	GenerationConfigFile = "generation_config.json"
	WeightsFile          = "model.safetensors"
	WeightsIndexFile     = "model.safetensors.index.json"
)

// EOSTokenIDs is every id that ends generation: config.json's eos ids, then
// generation_config.json's, without repeats.
func (m *Model) EOSTokenIDs() []int32 {
	return unionIDs(m.Config.EOSTokenIDs, m.Generation.EOSTokenIDs)
}

// Close releases the mapped files. Every Tensor of the model is invalid
// afterwards (Weights is cleared). Close is idempotent.
func (m *Model) Close() error {
	var first error
	for _, c := range m.closers {
		if err := c(); err != nil && first == nil {
			first = fmt.Errorf("close model %s: %w", m.Dir, err)
		}
	}
	m.closers = nil
	m.Weights = Weights{}
	return first
}

// source is where a checkpoint's files come from: an OS folder (mapped) or
// an fs.FS (read into memory).
type source interface {
	path(name string) string // for messages
	readFile(name string) ([]byte, error)
	stat(name string) error
	// mapFile returns the whole file and how to release it.
	mapFile(name string) ([]byte, func() error, error)
}

type dirSource struct{ dir string }

func (s dirSource) path(name string) string              { return filepath.Join(s.dir, name) }
func (s dirSource) readFile(name string) ([]byte, error) { return os.ReadFile(s.path(name)) }
func (s dirSource) stat(name string) error {
	_, err := os.Stat(s.path(name))
	return err
}
func (s dirSource) mapFile(name string) ([]byte, func() error, error) { return mapFile(s.path(name)) }

type fsSource struct{ fsys fs.FS }

func (s fsSource) path(name string) string              { return name }
func (s fsSource) readFile(name string) ([]byte, error) { return fs.ReadFile(s.fsys, name) }
func (s fsSource) stat(name string) error {
	_, err := fs.Stat(s.fsys, name)
	return err
}
func (s fsSource) mapFile(name string) ([]byte, func() error, error) {
	data, err := fs.ReadFile(s.fsys, name)
	return data, func() error { return nil }, err
}

// Load opens the Hugging Face checkpoint in dir: config.json,
// generation_config.json (optional) and model.safetensors or the shards
// named by model.safetensors.index.json, each memory-mapped read-only. Every
// tensor is checked against Config.ExpectedTensors.
func Load(dir string) (*Model, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("load %s: not a directory", dir)
	}
	m, err := load(dirSource{dir})
	if err != nil {
		return nil, err
	}
	m.Dir = dir
	return m, nil
}

// LoadFS loads a checkpoint from the root of fsys (e.g. the embedded demo
// model), reading every file into memory. Otherwise it is Load.
func LoadFS(fsys fs.FS) (*Model, error) {
	return load(fsSource{fsys})
}

// located is a tensor found in a shard.
type located struct {
	shard string
	info  TensorInfo
	data  []byte
}

// LoadMeta reads only config.json and generation_config.json of a model
// folder: the Model has no weights. It is for what needs a model's shape and
// token ids but not its math (the fake backend, capacity tests).
func LoadMeta(dir string) (*Model, error) {
	cfg, gen, err := loadMeta(dirSource{dir})
	if err != nil {
		return nil, err
	}
	return &Model{Dir: dir, Config: cfg, Generation: gen}, nil
}

func loadMeta(src source) (Config, GenerationConfig, error) {
	cfgData, err := src.readFile(ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, GenerationConfig{}, fmt.Errorf("load %s: %w", src.path("."), ErrNoConfig)
	}
	if err != nil {
		return Config{}, GenerationConfig{}, fmt.Errorf("load %s: %w", src.path(ConfigFile), err)
	}
	cfg, err := ParseConfig(cfgData)
	if err != nil {
		return Config{}, GenerationConfig{}, fmt.Errorf("load %s: %w", src.path(ConfigFile), err)
	}
	gen := generationFromConfig(&cfg)
	genData, err := src.readFile(GenerationConfigFile)
	switch {
	case err == nil:
		if gen, err = ParseGenerationConfig(genData); err != nil {
			return Config{}, GenerationConfig{}, fmt.Errorf("load %s: %w", src.path(GenerationConfigFile), err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Config{}, GenerationConfig{}, fmt.Errorf("load %s: %w", src.path(GenerationConfigFile), err)
	}
	return cfg, gen, nil
}

func load(src source) (*Model, error) {
	cfg, gen, err := loadMeta(src)
	if err != nil {
		return nil, err
	}
	shards, weightMap, listFile, err := weightFiles(src)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Generation: gen}
	ok := false
	defer func() {
		if !ok {
			m.Close()
		}
	}()
	found := make(map[string]located)
	for _, shard := range shards {
		if err := m.readShard(src, shard, weightMap, found); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(weightMap) {
		if _, ok := found[name]; !ok {
			return nil, fmt.Errorf("load %s: tensor %s: %w (the index places it in %s)", src.path(weightMap[name]), name, ErrMissingTensor, weightMap[name])
		}
	}
	specs := cfg.ExpectedTensors()
	byName := make(map[string]*Tensor, len(specs))
	for _, s := range specs {
		l, ok := found[s.Name]
		if !ok {
			return nil, fmt.Errorf("load %s: tensor %s: %w", src.path(listFile), s.Name, ErrMissingTensor)
		}
		if !slices.Equal(l.info.Shape, s.Shape) {
			return nil, fmt.Errorf("load %s: tensor %s: %w: shape %v, config implies %v", src.path(l.shard), s.Name, ErrShapeMismatch, l.info.Shape, s.Shape)
		}
		t, err := NewTensor(s.Name, l.info.DType, l.info.Shape, l.data)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", src.path(l.shard), err)
		}
		byName[s.Name] = t
	}
	var extra []string
	for name := range found {
		if byName[name] == nil && !cfg.harmlessExtra(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		more := ""
		if len(extra) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(extra)-1)
		}
		return nil, fmt.Errorf("load %s: tensor %s: %w for %s%s", src.path(found[extra[0]].shard), extra[0], ErrUnexpectedTensor, cfg.Architecture, more)
	}
	m.Weights = bind(&cfg, specs, byName)
	ok = true
	return m, nil
}

// readShard maps one safetensors file and records its tensors in found.
func (m *Model) readShard(src source, shard string, weightMap map[string]string, found map[string]located) error {
	data, release, err := src.mapFile(shard)
	if err != nil {
		return fmt.Errorf("load %s: %w", src.path(shard), err)
	}
	m.closers = append(m.closers, release)
	h, err := ParseHeader(data, int64(len(data)))
	if err != nil {
		return fmt.Errorf("load %s: %w", src.path(shard), err)
	}
	for _, t := range h.Tensors {
		if prev, dup := found[t.Name]; dup {
			return fmt.Errorf("load %s: tensor %s: %w: also stored in %s", src.path(shard), t.Name, ErrUnexpectedTensor, prev.shard)
		}
		if want, listed := weightMap[t.Name]; listed && want != shard {
			return fmt.Errorf("load %s: tensor %s: %w: %s places it in %s", src.path(shard), t.Name, ErrInvalidConfig, WeightsIndexFile, want)
		}
		begin, end := h.DataOffset+t.Begin, h.DataOffset+t.End
		found[t.Name] = located{shard: shard, info: t, data: data[begin:end:end]}
	}
	return nil
}

// weightFiles finds the safetensors files: model.safetensors, else the
// shards of model.safetensors.index.json. listFile is the file that lists
// the tensors (for messages about missing ones).
func weightFiles(src source) (shards []string, weightMap map[string]string, listFile string, err error) {
	if err := src.stat(WeightsFile); err == nil {
		return []string{WeightsFile}, nil, WeightsFile, nil
	}
	data, err := src.readFile(WeightsIndexFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, "", fmt.Errorf("load %s: %w", src.path("."), ErrNoWeights)
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("load %s: %w", src.path(WeightsIndexFile), err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, nil, "", fmt.Errorf("load %s: %w: %v", src.path(WeightsIndexFile), ErrInvalidConfig, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, nil, "", fmt.Errorf("load %s: %w: empty weight_map", src.path(WeightsIndexFile), ErrInvalidConfig)
	}
	seen := make(map[string]bool)
	for name, file := range idx.WeightMap {
		if !fs.ValidPath(file) || strings.ContainsAny(file, `/\`) || file == "." {
			return nil, nil, "", fmt.Errorf("load %s: tensor %s: %w: shard %q is not a file name in the folder", src.path(WeightsIndexFile), name, ErrInvalidConfig, file)
		}
		if !seen[file] {
			seen[file] = true
			shards = append(shards, file)
		}
	}
	sort.Strings(shards)
	for _, file := range shards {
		if err := src.stat(file); err != nil {
			return nil, nil, "", fmt.Errorf("load %s: shard named by %s: %w", src.path(file), WeightsIndexFile, err)
		}
	}
	return shards, idx.WeightMap, WeightsIndexFile, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
