package cuda

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/sample"
)

func loadTiny(t *testing.T, name string) *model.Model {
	t.Helper()
	m, err := model.Load(testmodels.Testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestNewUploadsEveryTensor(t *testing.T) {
	for _, name := range []string{"llama-tiny", "mistral-tiny", "qwen2-tiny"} {
		t.Run(name, func(t *testing.T) {
			m := loadTiny(t, name)
			lib := &fakeLib{devices: 1}
			be, err := newBackend(context.Background(), lib, m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			fm := lib.created[0]
			for _, s := range m.Config.ExpectedTensors() {
				n := int64(1)
				for _, d := range s.Shape {
					n *= int64(d)
				}
				if fm.uploaded[s.Name] != n {
					t.Errorf("%s: uploaded %d of %d elements", s.Name, fm.uploaded[s.Name], n)
				}
			}
			if len(fm.uploaded) != len(m.Config.ExpectedTensors()) {
				t.Errorf("uploaded %d tensors, config expects %d", len(fm.uploaded), len(m.Config.ExpectedTensors()))
			}
			if got := fm.cache.GPUMemoryUtilization; got != DefaultGPUMemoryUtilization {
				t.Errorf("gpu memory utilization %v, want the default", got)
			}
			g := be.Geometry()
			if g.KVDType != backend.BF16 || g.NumBlocks != 64 || g.VocabSize != 512 {
				t.Errorf("geometry %+v", g)
			}
			if err := be.Close(); err != nil || !fm.destroyed {
				t.Errorf("close: %v, destroyed %v", err, fm.destroyed)
			}
			if _, err := be.Forward(context.Background(), &backend.Batch{}); !errors.Is(err, ErrClosed) {
				t.Errorf("forward after close: %v", err)
			}
		})
	}
}

func TestModelConfig(t *testing.T) {
	m := loadTiny(t, "mistral-tiny")
	mc := newModelConfig(&m.Config)
	if len(mc.LayerWindows) != m.Config.NumLayers || mc.LayerWindows[0] != 16 {
		t.Errorf("windows %v, want 16 per layer", mc.LayerWindows)
	}
	inv := m.Config.RopeInvFreq()
	if len(mc.RopeInvFreq) != m.Config.HeadDim/2 || mc.RopeInvFreq[1] != float32(inv[1]) {
		t.Errorf("inverse frequencies %v", mc.RopeInvFreq)
	}
	q := loadTiny(t, "qwen2-tiny")
	qc := newModelConfig(&q.Config)
	if !qc.AttentionBias || qc.AttentionOutBias || !qc.TieWordEmbeddings || qc.LayerWindows[1] != 0 {
		t.Errorf("qwen2 config %+v", qc)
	}
}

func TestRandomWeightsOnDevice(t *testing.T) {
	cfg, err := model.LoadConfigFile(testmodels.Testdata(t, "llama-tiny", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Random(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	lib := &fakeLib{devices: 1}
	var calls int
	if _, err := newBackend(context.Background(), lib, m, Options{RandomWeights: true, RandomSeed: 3,
		Progress: func(done, total int64) { calls++ }}); err != nil {
		t.Fatal(err)
	}
	fm := lib.created[0]
	if len(fm.uploaded) != 0 || len(fm.random) != len(cfg.ExpectedTensors()) || calls != len(cfg.ExpectedTensors()) {
		t.Errorf("uploaded %d, random %d, progress %d; want 0, %d, %d", len(fm.uploaded), len(fm.random), calls,
			len(cfg.ExpectedTensors()), len(cfg.ExpectedTensors()))
	}
	for name, seed := range fm.random {
		if seed != 3 {
			t.Errorf("%s generated with seed %d", name, seed)
		}
	}
}

func TestGeneratedTensorsUploadAsF32(t *testing.T) {
	cfg, err := model.LoadConfigFile(testmodels.Testdata(t, "qwen2-tiny", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := model.Random(cfg, 1)
	lib := &fakeLib{devices: 1}
	if _, err := newBackend(context.Background(), lib, m, Options{}); err != nil {
		t.Fatal(err)
	}
	for name, dt := range lib.created[0].dtypes {
		if dt != model.F32 {
			t.Errorf("%s uploaded as %s", name, dt)
		}
	}
}

func TestNoDevice(t *testing.T) {
	m := loadTiny(t, "llama-tiny")
	_, err := newBackend(context.Background(), &fakeLib{devices: 0}, m, Options{})
	if !errors.Is(err, ErrNoGPU) {
		t.Fatalf("no device: %v", err)
	}
	_, err = newBackend(context.Background(), &fakeLib{devices: 1}, m, Options{Device: 1})
	if !errors.Is(err, ErrNoGPU) {
		t.Fatalf("device 1 of 1: %v", err)
	}
	_, err = newBackend(context.Background(), &fakeLib{devices: 1}, m, Options{MaxModelLen: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "max_position_embeddings") {
		t.Fatalf("max model length: %v", err)
	}
}

func TestForwardPacksAndMapsResults(t *testing.T) {
	m := loadTiny(t, "llama-tiny")
	lib := &fakeLib{devices: 1}
	be, err := newBackend(context.Background(), lib, m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fm := lib.created[0]
	fm.forwardFn = func(p *packed, r *results) error {
		for i := range r.Tokens {
			r.Tokens[i] = int32(7 + i)
			r.Logprobs[i] = -0.5
			r.TopTokens[i*maxTopLogprobs] = 7
			r.TopLogprobs[i*maxTopLogprobs] = -0.5
			r.TopTokens[i*maxTopLogprobs+1] = -1 // fewer than asked
		}
		return nil
	}
	b := &backend.Batch{
		Tokens: []int32{1, 2, 3, 4}, Positions: []int32{0, 1, 2, 5}, SeqStarts: []int32{0, 3, 4},
		BlockTables: []int32{0, 1}, BlockTableStarts: []int32{0, 1, 2},
		Samples: []backend.SampleRow{
			{Seq: 0, Params: sample.Params{Temperature: 0.7, TopLogprobs: 3}},
			{Seq: 1, Params: sample.Params{}},
		},
	}
	out, err := be.Forward(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	want := []sample.Result{
		{Token: 7, Logprob: -0.5, Top: []sample.TokenLogprob{{Token: 7, Logprob: -0.5}}},
		{Token: 8},
	}
	if !reflect.DeepEqual(out.Samples, want) {
		t.Errorf("samples %+v, want %+v", out.Samples, want)
	}
	if p := fm.lastBatch; !reflect.DeepEqual(p.Tokens, b.Tokens) || !reflect.DeepEqual(p.SampleSeqs, []int32{0, 1}) ||
		p.Params[0].Temperature != 0.7 || p.Params[0].TopLogprobs != 3 {
		t.Errorf("packed %+v", p)
	}

	fm.forwardFn = func(p *packed, r *results) error {
		return statusError("forward", statusNoCandidates, "sample row 0 has no logit above -Inf")
	}
	if _, err := be.Forward(context.Background(), b); !errors.Is(err, sample.ErrNoCandidates) {
		t.Errorf("no candidates: %v", err)
	}
	bad := *b
	bad.Tokens = []int32{1, 2, 3, 9999}
	if _, err := be.Forward(context.Background(), &bad); !errors.Is(err, backend.ErrInvalidBatch) {
		t.Errorf("invalid batch: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := be.Forward(ctx, b); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestStatusErrors(t *testing.T) {
	cases := []struct {
		status int
		want   error
	}{
		{statusInvalidArgument, ErrInvalid},
		{statusNoDevice, ErrNoGPU},
		{statusOutOfMemory, ErrOutOfMemory},
		{statusCUDA, ErrCUDA},
		{statusCUBLAS, ErrCUDA},
		{statusUnsupported, ErrUnsupported},
		{statusNoCandidates, sample.ErrNoCandidates},
		{99, ErrCUDA},
	}
	for _, c := range cases {
		err := statusError("op", c.status, "detail")
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "detail") {
			t.Errorf("status %d: %v, want %v", c.status, err, c.want)
		}
	}
	if statusError("op", statusOK, "") != nil {
		t.Error("status OK is an error")
	}
}

func TestLibraryNotFound(t *testing.T) {
	_, err := New(context.Background(), loadTiny(t, "llama-tiny"), Options{Library: filepath.Join(t.TempDir(), LibraryName)})
	if !errors.Is(err, ErrLibraryNotFound) {
		t.Fatalf("missing library: %v", err)
	}
	// A file that is not a shared library: found, but does not load.
	junk := filepath.Join(t.TempDir(), LibraryName)
	if err := os.WriteFile(junk, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Devices(junk); !errors.Is(err, ErrLibraryNotFound) {
		t.Fatalf("junk library: %v", err)
	}
}

func TestLibraryPaths(t *testing.T) {
	if got := LibraryPaths("/x/lib.so"); !reflect.DeepEqual(got, []string{"/x/lib.so"}) {
		t.Errorf("explicit: %v", got)
	}
	got := LibraryPaths("")
	if len(got) < 2 || got[len(got)-1] != LibraryName || !strings.HasSuffix(got[0], "/"+LibraryName) {
		t.Errorf("search path %v", got)
	}
}

// On a machine without a GPU, a built library loads and reports ErrNoGPU
// (the "no GPU" half of --device cuda's message).
func TestBuiltLibraryWithoutGPU(t *testing.T) {
	lib := filepath.Join(testmodels.RepoRoot(t), "build", LibraryName)
	if _, err := os.Stat(lib); err != nil {
		t.Skip("libsota_cuda.so not built (make cuda)")
	}
	devs, err := Devices(lib)
	switch {
	case errors.Is(err, ErrLibraryNotFound):
		t.Skipf("library present but not loadable here: %v", err)
	case err == nil && len(devs) > 0:
		t.Skipf("this machine has a GPU: %s", devs[0].Name)
	case err == nil:
		_, err = New(context.Background(), loadTiny(t, "llama-tiny"), Options{Library: lib})
		if !errors.Is(err, ErrNoGPU) {
			t.Fatalf("New without a GPU: %v", err)
		}
	case !errors.Is(err, ErrNoGPU):
		t.Fatalf("Devices without a GPU: %v", err)
	}
}
