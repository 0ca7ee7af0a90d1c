package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/tokenizer"
)

// modelSource says where weights and tokenizer come from.
type modelSource struct {
	Dir           string // Hugging Face folder; "" = the built-in demo model
	TokenizerDir  string // "" = Dir
	RandomWeights bool   // Dir (or a config.json path) gives only the architecture
	WeightsSeed   uint64
	// MetaOnly reads config.json and generation_config.json, no weights
	// (for the fake backend).
	MetaOnly bool
	// Name is what the model is called ("" = the folder's base name); load
	// sets it to ORG/NAME for a model found in the Hugging Face cache.
	Name string
}

// loaded is a model ready to run.
type loaded struct {
	name string
	m    *model.Model
	tok  *tokenizer.Tokenizer // nil when the model has no tokenizer (random weights)
}

// load resolves Dir and TokenizerDir in place (~, Hugging Face ids in the
// local cache, unsupported formats: see modelpath.go), then loads.
func (s *modelSource) load(logger *slog.Logger) (*loaded, error) {
	start := time.Now()
	var l loaded
	var err error
	var name string
	if s.Dir, name, err = resolveModel(s.Dir); err != nil {
		return nil, err
	}
	if s.Name == "" {
		s.Name = name
	}
	if s.TokenizerDir, err = resolveTokenizer(s.TokenizerDir); err != nil {
		return nil, err
	}
	switch {
	case s.RandomWeights:
		if s.Dir == "" {
			return nil, errors.New("--random-weights needs --model: a config.json or a folder holding one")
		}
		cfg, err := model.LoadConfigFile(s.Dir)
		if err != nil {
			return nil, err
		}
		if l.m, err = model.Random(cfg, s.WeightsSeed); err != nil {
			return nil, err
		}
		l.name = filepath.Base(s.Dir)
		if l.name == model.ConfigFile {
			l.name = filepath.Base(filepath.Dir(s.Dir))
		}
	case s.MetaOnly && s.Dir != "":
		dir := s.Dir
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			dir = filepath.Dir(dir)
		}
		if l.m, err = model.LoadMeta(dir); err != nil {
			return nil, err
		}
		l.name = filepath.Base(filepath.Clean(dir))
	case s.Dir == "":
		if l.m, err = model.LoadFS(demo.FS()); err != nil {
			return nil, fmt.Errorf("built-in model: %w", err)
		}
		if l.tok, err = tokenizer.LoadFS(demo.FS()); err != nil {
			return nil, fmt.Errorf("built-in model: %w", err)
		}
		l.name = demo.Name
	default:
		if l.m, err = model.Load(s.Dir); err != nil {
			return nil, err
		}
		l.name = filepath.Base(filepath.Clean(s.Dir))
	}
	if s.Name != "" {
		l.name = s.Name
	}
	if l.tok == nil {
		if l.tok, err = s.loadTokenizer(); err != nil {
			l.m.Close()
			return nil, err
		}
	}
	cfg := &l.m.Config
	logger.Debug("model loaded", "model", l.name, "dir", s.Dir, "arch", cfg.Arch, "params", cfg.NumParams(),
		"layers", cfg.NumLayers, "hidden", cfg.HiddenSize, "vocab", cfg.VocabSize,
		"random_weights", s.RandomWeights, "elapsed", time.Since(start).Round(time.Millisecond))
	return &l, nil
}

// loadTokenizer loads tokenizer.json (or tokenizer.model) from TokenizerDir,
// else from beside the model. A model folder without one (random weights from a bare config.json,
// say) runs without a tokenizer: prompts are then given as token ids.
func (s modelSource) loadTokenizer() (*tokenizer.Tokenizer, error) {
	dir := s.TokenizerDir
	if dir == "" {
		dir = s.Dir
		if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
			dir = filepath.Dir(dir)
		}
		if !hasTokenizer(dir) {
			return nil, nil
		}
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return tok, nil
}

// hasTokenizer reports whether dir holds tokenizer.json or a SentencePiece
// tokenizer.model (tokenizer.model.v3 and the like count too).
func hasTokenizer(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); !errors.Is(err, fs.ErrNotExist) {
		return true
	}
	m, _ := filepath.Glob(filepath.Join(dir, "tokenizer.model*"))
	return len(m) > 0
}

// deviceFlags pick where the model runs.
type deviceFlags struct {
	Device               string  `help:"Where the model runs: cpu, or cuda (needs libsota_cuda.so from 'make cuda' and an NVIDIA GPU)." enum:"cpu,cuda" default:"cpu" env:"SOTA_DEVICE"`
	CUDALib              string  `name:"cuda-lib" help:"Path of libsota_cuda.so (default: beside the binary, then build/)." placeholder:"FILE" env:"SOTA_CUDA_LIB"`
	CUDADevice           int     `name:"cuda-device" help:"CUDA device ordinal." default:"0" env:"SOTA_CUDA_DEVICE"`
	GPUMemoryUtilization float64 `name:"gpu-memory-utilization" help:"Fraction of GPU memory for weights, activations and KV cache." default:"0.9" env:"SOTA_GPU_MEMORY_UTILIZATION"`
	DType                string  `name:"dtype" help:"Weight dtype, as vLLM's --dtype: auto (cpu: bfloat16 for bfloat16/float16 checkpoints, else float32; cuda: bfloat16), float32 or bfloat16 (cpu); the CPU accumulates in float32 either way." enum:"auto,float32,float,bfloat16,float16,half" default:"auto" env:"SOTA_DTYPE"`
	Quantization         string  `name:"quantization" help:"Weight quantization made at load: int8 (8-bit weights with per-block scales, float32 accumulation; cpu only)." enum:"none,int8" default:"none" env:"SOTA_QUANTIZATION"`
}

// newBackend builds the backend of --device, with a progress bar on a
// terminal when the weights are large enough to take a while.
func newBackend(ctx context.Context, l *loaded, src modelSource, dev deviceFlags, opts cpu.Options,
	logger *slog.Logger, stderr io.Writer) (backend.Backend, error) {
	if dev.GPUMemoryUtilization <= 0 || dev.GPUMemoryUtilization > 1 {
		return nil, fmt.Errorf("--gpu-memory-utilization %v: must be in (0, 1]", dev.GPUMemoryUtilization)
	}
	format, err := dev.weightFormat(storedDType(l))
	if err != nil {
		return nil, err
	}
	opts.Weights = format
	const barThreshold = 256 << 20
	var bar *progressbar.ProgressBar
	opts.Progress = func(done, total int64) {
		if bar == nil {
			f, ok := stderr.(*os.File)
			if total < barThreshold || !ok || !term.IsTerminal(int(f.Fd())) {
				return
			}
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription("loading weights"), progressbar.OptionShowBytes(true),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		}
		_ = bar.Set64(done)
	}
	be, err := openBackend(ctx, dev.Device, l.m, backendOptions{
		CPU: opts, CUDALibrary: dev.CUDALib, CUDADevice: dev.CUDADevice, GPUMemoryUtilization: dev.GPUMemoryUtilization,
		RandomWeights: src.RandomWeights, WeightsSeed: src.WeightsSeed, Logger: logger,
	})
	if bar != nil {
		_ = bar.Finish()
	}
	return be, err
}

// kernelName says what runs the math, for the statistics line.
func kernelName(be backend.Backend) string {
	if c, ok := be.(*cpu.Backend); ok {
		return c.Kernels() + " kernels"
	}
	return "cuda"
}
