package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sotasystems/sota/backend/cpu"
	cudabackend "github.com/sotasystems/sota/backend/cuda"
	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/model"
)

func tinyModel(t *testing.T) *model.Model {
	t.Helper()
	m, err := model.Load(testmodels.Testdata(t, "llama-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestOpenBackendCPU(t *testing.T) {
	be, err := openBackend(context.Background(), "cpu", tinyModel(t), backendOptions{CPU: cpuTestOptions()})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if g := be.Geometry(); g.VocabSize != 512 {
		t.Errorf("geometry %+v", g)
	}
}

func cpuTestOptions() (o cpu.Options) {
	o.NumBlocks = 16
	o.MemoryAvailable = -1
	return o
}

func TestOpenBackendUnknownDevice(t *testing.T) {
	_, err := openBackend(context.Background(), "tpu", tinyModel(t), backendOptions{})
	if err == nil || !strings.Contains(err.Error(), `unknown device "tpu"`) {
		t.Fatalf("tpu: %v", err)
	}
}

// Without the library the error names it (and whether a GPU is there).
func TestOpenBackendCUDAWithoutLibrary(t *testing.T) {
	lib := filepath.Join(t.TempDir(), cudabackend.LibraryName)
	_, err := openBackend(context.Background(), "cuda", tinyModel(t), backendOptions{CUDALibrary: lib})
	if !errors.Is(err, cudabackend.ErrLibraryNotFound) {
		t.Fatalf("err = %v, want ErrLibraryNotFound", err)
	}
	for _, want := range []string{"--device cuda", "libsota_cuda.so not found", "make cuda"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

// With the library built but no GPU (CI after make cuda, developers) the
// error says the GPU is missing.
func TestOpenBackendCUDAWithoutGPU(t *testing.T) {
	lib := filepath.Join(testmodels.RepoRoot(t), "build", cudabackend.LibraryName)
	if _, err := os.Stat(lib); err != nil {
		t.Skip("libsota_cuda.so not built")
	}
	if devs, err := cudabackend.Devices(lib); err == nil && len(devs) > 0 {
		t.Skip("this machine has a GPU")
	} else if errors.Is(err, cudabackend.ErrLibraryNotFound) {
		t.Skipf("library not loadable here: %v", err)
	}
	_, err := openBackend(context.Background(), "cuda", tinyModel(t), backendOptions{CUDALibrary: lib})
	if !errors.Is(err, cudabackend.ErrNoGPU) || !strings.Contains(err.Error(), "no CUDA GPU") {
		t.Fatalf("err = %v, want ErrNoGPU", err)
	}
}
