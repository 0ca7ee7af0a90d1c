//go:build cgo

package cuda

/*
#cgo CFLAGS: -I${SRCDIR}/../../cuda/include
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "sota.h"

typedef struct {
  int32_t (*abi_version)(void);
  const char *(*last_error)(void);
  sota_status (*device_count)(int32_t *);
  sota_status (*device_info_get)(int32_t, sota_device_info *);
  sota_status (*model_create)(const sota_model_config *, int32_t, sota_model **);
  void (*model_destroy)(sota_model *);
  sota_status (*model_upload)(sota_model *, const char *, sota_dtype, const int64_t *, int32_t,
                              int64_t, int64_t, const void *);
  sota_status (*model_random_weight)(sota_model *, const char *, uint64_t);
  int64_t (*model_weight_bytes)(const sota_model *);
  int64_t (*model_decode_weight_bytes)(const sota_model *);
  sota_status (*model_init_cache)(sota_model *, const sota_cache_options *, sota_geometry *);
  sota_status (*forward)(sota_model *, const sota_batch *, sota_output *);
  sota_status (*forward_logits)(sota_model *, const sota_batch *, float *);
  sota_status (*sample_logits)(sota_model *, const sota_batch *, const float *, sota_output *);
  sota_status (*measure_copy_bandwidth)(int32_t, int64_t, int32_t, double *);
  sota_status (*time_forward)(sota_model *, const sota_batch *, int32_t, double *);
} sota_fns;

#define SOTA_ERRLEN 1024

// sota_open dlopens path and resolves every entry point. On failure it
// returns NULL and writes dlerror's text (or the missing symbol) into err.
static void *sota_open(const char *path, sota_fns *f, char *err) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    strncpy(err, e ? e : "dlopen failed", SOTA_ERRLEN - 1);
    return NULL;
  }
#define SYM(field, name)                                              \
  if (!(*(void **)(&f->field) = dlsym(h, name))) {                    \
    snprintf(err, SOTA_ERRLEN, "%s: missing symbol %s", path, name);  \
    dlclose(h);                                                       \
    return NULL;                                                      \
  }
  SYM(abi_version, "sota_abi_version")
  SYM(last_error, "sota_last_error")
  SYM(device_count, "sota_device_count")
  SYM(device_info_get, "sota_device_info_get")
  SYM(model_create, "sota_model_create")
  SYM(model_destroy, "sota_model_destroy")
  SYM(model_upload, "sota_model_upload")
  SYM(model_random_weight, "sota_model_random_weight")
  SYM(model_weight_bytes, "sota_model_weight_bytes")
  SYM(model_decode_weight_bytes, "sota_model_decode_weight_bytes")
  SYM(model_init_cache, "sota_model_init_cache")
  SYM(forward, "sota_forward")
  SYM(forward_logits, "sota_forward_logits")
  SYM(sample_logits, "sota_sample_logits")
  SYM(measure_copy_bandwidth, "sota_measure_copy_bandwidth")
  SYM(time_forward, "sota_time_forward")
#undef SYM
  return h;
}

// Each shim makes one library call and, on failure, copies the thread's
// last error before returning, so the message is read on the same thread.
static sota_status done(const sota_fns *f, sota_status s, char *err) {
  if (s != SOTA_OK) strncpy(err, f->last_error(), SOTA_ERRLEN - 1);
  return s;
}
static int32_t x_abi_version(const sota_fns *f) { return f->abi_version(); }
static sota_status x_device_count(const sota_fns *f, int32_t *n, char *err) {
  return done(f, f->device_count(n), err);
}
static sota_status x_device_info(const sota_fns *f, int32_t d, sota_device_info *o, char *err) {
  return done(f, f->device_info_get(d, o), err);
}
static sota_status x_model_create(const sota_fns *f, const sota_model_config *c, int32_t d,
                                  sota_model **m, char *err) {
  return done(f, f->model_create(c, d, m), err);
}
static void x_model_destroy(const sota_fns *f, sota_model *m) { f->model_destroy(m); }
static sota_status x_model_upload(const sota_fns *f, sota_model *m, const char *name, sota_dtype t,
                                  const int64_t *shape, int32_t nd, int64_t off, int64_t n,
                                  const void *data, char *err) {
  return done(f, f->model_upload(m, name, t, shape, nd, off, n, data), err);
}
static sota_status x_model_random(const sota_fns *f, sota_model *m, const char *name, uint64_t seed,
                                  char *err) {
  return done(f, f->model_random_weight(m, name, seed), err);
}
static int64_t x_weight_bytes(const sota_fns *f, sota_model *m) { return f->model_weight_bytes(m); }
static int64_t x_decode_bytes(const sota_fns *f, sota_model *m) { return f->model_decode_weight_bytes(m); }
static sota_status x_init_cache(const sota_fns *f, sota_model *m, const sota_cache_options *o,
                                sota_geometry *g, char *err) {
  return done(f, f->model_init_cache(m, o, g), err);
}
static sota_status x_forward(const sota_fns *f, sota_model *m, const sota_batch *b, sota_output *o,
                             char *err) {
  return done(f, f->forward(m, b, o), err);
}
static sota_status x_forward_logits(const sota_fns *f, sota_model *m, const sota_batch *b, float *l,
                                    char *err) {
  return done(f, f->forward_logits(m, b, l), err);
}
static sota_status x_sample_logits(const sota_fns *f, sota_model *m, const sota_batch *b,
                                   const float *l, sota_output *o, char *err) {
  return done(f, f->sample_logits(m, b, l, o), err);
}
static sota_status x_copy_bw(const sota_fns *f, int32_t d, int64_t bytes, int32_t iters, double *g,
                             char *err) {
  return done(f, f->measure_copy_bandwidth(d, bytes, iters, g), err);
}
static sota_status x_time_forward(const sota_fns *f, sota_model *m, const sota_batch *b, int32_t n,
                                  double *ms, char *err) {
  return done(f, f->time_forward(m, b, n, ms), err);
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/sotasystems/sota/model"
)

// library is the loaded libsota_cuda.so. It is never unloaded.
type library struct {
	path string
	fns  *C.sota_fns // C memory: its function pointers are read by C
}

var (
	libMu     sync.Mutex
	libByPath = map[string]*library{}
)

// loadLibrary returns the library at the first of LibraryPaths(explicit)
// that loads, once per path per process.
func loadLibrary(explicit string) (native, error) {
	libMu.Lock()
	defer libMu.Unlock()
	var tried []string
	for _, path := range LibraryPaths(explicit) {
		if l, ok := libByPath[path]; ok {
			return l, nil
		}
		bare := !strings.ContainsRune(path, '/')
		if !bare {
			if _, err := os.Stat(path); err != nil {
				tried = append(tried, path)
				continue
			}
		}
		fns := (*C.sota_fns)(C.calloc(1, C.size_t(unsafe.Sizeof(C.sota_fns{}))))
		var errbuf [C.SOTA_ERRLEN]C.char
		cpath := C.CString(path)
		h := C.sota_open(cpath, fns, &errbuf[0])
		C.free(unsafe.Pointer(cpath))
		if h == nil {
			C.free(unsafe.Pointer(fns))
			msg := C.GoString(&errbuf[0])
			if bare && strings.Contains(msg, LibraryName+": cannot open shared object file") {
				tried = append(tried, "the dynamic loader's search path")
				continue
			}
			// The file is there but does not load (a missing cuBLASLt, say).
			return nil, fmt.Errorf("cuda backend: %w: %s does not load: %s", ErrLibraryNotFound, path, msg)
		}
		if v := C.x_abi_version(fns); v != C.SOTA_ABI_VERSION {
			return nil, fmt.Errorf("cuda backend: %w: %s has ABI version %d, this binary wants %d (rebuild with make cuda)",
				ErrABIMismatch, path, int(v), C.SOTA_ABI_VERSION)
		}
		l := &library{path: path, fns: fns}
		libByPath[path] = l
		return l, nil
	}
	return nil, fmt.Errorf("cuda backend: %w (looked in %s); build it with 'make cuda' or give its path",
		ErrLibraryNotFound, strings.Join(tried, ", "))
}

// errBuf receives the library's message of a failed call.
type errBuf [C.SOTA_ERRLEN]C.char

func (e *errBuf) ptr() *C.char { return &e[0] }

func (l *library) status(op string, s C.sota_status, e *errBuf) error {
	return statusError(op, int(s), C.GoString(e.ptr()))
}

func (l *library) DeviceCount() (int, error) {
	var n C.int32_t
	var e errBuf
	if err := l.status("device count", C.x_device_count(l.fns, &n, e.ptr()), &e); err != nil {
		return 0, err
	}
	return int(n), nil
}

func (l *library) DeviceInfo(device int) (DeviceInfo, error) {
	var d C.sota_device_info
	var e errBuf
	if err := l.status("device info", C.x_device_info(l.fns, C.int32_t(device), &d, e.ptr()), &e); err != nil {
		return DeviceInfo{}, err
	}
	return DeviceInfo{
		Name: C.GoString(&d.name[0]), TotalMemory: int64(d.total_memory), FreeMemory: int64(d.free_memory),
		Major: int(d.major), Minor: int(d.minor), Multiprocessors: int(d.multiprocessors),
		L2Bytes: int(d.l2_bytes), DriverVersion: int(d.driver_version), RuntimeVersion: int(d.runtime_version),
	}, nil
}

func (l *library) CopyBandwidth(device int, bytes int64, iters int) (float64, error) {
	var g C.double
	var e errBuf
	s := C.x_copy_bw(l.fns, C.int32_t(device), C.int64_t(bytes), C.int32_t(iters), &g, e.ptr())
	if err := l.status("copy bandwidth", s, &e); err != nil {
		return 0, err
	}
	return float64(g), nil
}

func cbool(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

func (l *library) CreateModel(cfg *modelConfig, device int) (nativeModel, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	c := C.sota_model_config{
		vocab_size: C.int32_t(cfg.VocabSize), hidden_size: C.int32_t(cfg.HiddenSize),
		intermediate_size: C.int32_t(cfg.IntermediateSize), num_layers: C.int32_t(cfg.NumLayers),
		num_heads: C.int32_t(cfg.NumHeads), num_kv_heads: C.int32_t(cfg.NumKVHeads),
		head_dim: C.int32_t(cfg.HeadDim), max_position_embeddings: C.int32_t(cfg.MaxPositions),
		rms_norm_eps: C.double(cfg.RMSNormEps), tie_word_embeddings: cbool(cfg.TieWordEmbeddings),
		attention_bias: cbool(cfg.AttentionBias), attention_out_bias: cbool(cfg.AttentionOutBias),
		mlp_bias:      cbool(cfg.MLPBias),
		layer_windows: (*C.int32_t)(pinned(&pin, cfg.LayerWindows)),
		rope_inv_freq: (*C.float)(pinned(&pin, cfg.RopeInvFreq)),
	}
	var m *C.sota_model
	var e errBuf
	if err := l.status("create model", C.x_model_create(l.fns, &c, C.int32_t(device), &m, e.ptr()), &e); err != nil {
		return nil, err
	}
	return &cmodel{lib: l, m: m}, nil
}

// pinned pins the first element of s and returns its address (nil when empty).
func pinned[T any](pin *runtime.Pinner, s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	pin.Pin(p)
	return p
}

// cmodel is one sota_model of the library.
type cmodel struct {
	lib    *library
	m      *C.sota_model
	params []C.sota_sample_params // reused per step
}

func (c *cmodel) status(op string, s C.sota_status, e *errBuf) error { return c.lib.status(op, s, e) }

func dtypeOf(d model.DType) (C.sota_dtype, error) {
	switch d {
	case model.F32:
		return C.SOTA_F32, nil
	case model.F16:
		return C.SOTA_F16, nil
	case model.BF16:
		return C.SOTA_BF16, nil
	}
	return 0, fmt.Errorf("cuda backend: %w: dtype %q", ErrUnsupported, d)
}

func (c *cmodel) Upload(name string, dtype model.DType, shape []int, offset, count int64, data []byte) error {
	dt, err := dtypeOf(dtype)
	if err != nil {
		return err
	}
	if count*int64(dtype.Size()) != int64(len(data)) {
		return fmt.Errorf("cuda backend: upload %s: %w: %d bytes for %d elements", name, ErrInvalid, len(data), count)
	}
	dims := make([]C.int64_t, len(shape))
	for i, d := range shape {
		dims[i] = C.int64_t(d)
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var pin runtime.Pinner
	defer pin.Unpin()
	// data is usually a view of a memory-mapped file (not Go memory); a
	// generated chunk is Go memory and is pinned for the call.
	var e errBuf
	s := C.x_model_upload(c.lib.fns, c.m, cname, dt, (*C.int64_t)(pinned(&pin, dims)), C.int32_t(len(dims)),
		C.int64_t(offset), C.int64_t(count), pinned(&pin, data), e.ptr())
	return c.status("upload "+name, s, &e)
}

func (c *cmodel) RandomWeight(name string, seed uint64) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e errBuf
	return c.status("random weight "+name, C.x_model_random(c.lib.fns, c.m, cname, C.uint64_t(seed), e.ptr()), &e)
}

func (c *cmodel) InitCache(o cacheOptions) (geometry, error) {
	co := C.sota_cache_options{
		block_size: C.int32_t(o.BlockSize), num_blocks: C.int32_t(o.NumBlocks),
		gpu_memory_utilization: C.double(o.GPUMemoryUtilization), max_batch_tokens: C.int32_t(o.MaxBatchTokens),
		max_seqs: C.int32_t(o.MaxSeqs), max_model_len: C.int32_t(o.MaxModelLen),
	}
	var g C.sota_geometry
	var e errBuf
	if err := c.status("init cache", C.x_init_cache(c.lib.fns, c.m, &co, &g, e.ptr()), &e); err != nil {
		return geometry{}, err
	}
	return geometry{
		BlockSize: int(g.block_size), NumBlocks: int(g.num_blocks), MaxBatchTokens: int(g.max_batch_tokens),
		MaxSeqs: int(g.max_seqs), MaxModelLen: int(g.max_model_len), VocabSize: int(g.vocab_size),
		KVCacheBytes: int64(g.kv_cache_bytes), WorkspaceBytes: int64(g.workspace_bytes),
	}, nil
}

// batch builds the C view of p; every Go slice it points to is pinned in pin.
func (c *cmodel) batch(p *packed, pin *runtime.Pinner) *C.sota_batch {
	c.params = c.params[:0]
	for _, sp := range p.Params {
		c.params = append(c.params, C.sota_sample_params{
			temperature: C.float(sp.Temperature), top_k: C.int32_t(sp.TopK), top_p: C.float(sp.TopP),
			min_p: C.float(sp.MinP), repetition_penalty: C.float(sp.RepetitionPenalty),
			presence_penalty: C.float(sp.PresencePenalty), frequency_penalty: C.float(sp.FrequencyPenalty),
			seed: C.uint64_t(sp.Seed), output_len: C.int32_t(sp.OutputLen), logprobs: cbool(sp.Logprobs),
			top_logprobs: C.int32_t(sp.TopLogprobs),
		})
	}
	i32 := func(s []int32) *C.int32_t { return (*C.int32_t)(pinned(pin, s)) }
	b := &C.sota_batch{
		num_tokens: C.int32_t(len(p.Tokens)), num_seqs: C.int32_t(max(len(p.SeqStarts)-1, 0)),
		tokens: i32(p.Tokens), positions: i32(p.Positions), seq_starts: i32(p.SeqStarts),
		block_tables: i32(p.BlockTables), block_table_starts: i32(p.BlockTableStarts),
		num_samples: C.int32_t(len(p.Params)), sample_seqs: i32(p.SampleSeqs),
		params:      (*C.sota_sample_params)(pinned(pin, c.params)),
		bias_starts: i32(p.BiasStarts), bias_ids: i32(p.BiasIDs), bias_values: (*C.float)(pinned(pin, p.BiasValues)),
		penalty_starts: i32(p.PenaltyStarts), penalty_ids: i32(p.PenaltyIDs), penalty_counts: i32(p.PenaltyCounts),
	}
	pin.Pin(b)
	return b
}

func (c *cmodel) output(r *results, pin *runtime.Pinner) *C.sota_output {
	o := &C.sota_output{
		tokens: (*C.int32_t)(pinned(pin, r.Tokens)), logprobs: (*C.float)(pinned(pin, r.Logprobs)),
		top_tokens: (*C.int32_t)(pinned(pin, r.TopTokens)), top_logprobs: (*C.float)(pinned(pin, r.TopLogprobs)),
		row_status: (*C.int32_t)(pinned(pin, r.Status)),
	}
	pin.Pin(o)
	return o
}

func (c *cmodel) Forward(p *packed, r *results) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	var e errBuf
	return c.status("forward", C.x_forward(c.lib.fns, c.m, c.batch(p, &pin), c.output(r, &pin), e.ptr()), &e)
}

func (c *cmodel) ForwardLogits(p *packed, logits []float32) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	var e errBuf
	s := C.x_forward_logits(c.lib.fns, c.m, c.batch(p, &pin), (*C.float)(pinned(&pin, logits)), e.ptr())
	return c.status("forward logits", s, &e)
}

func (c *cmodel) SampleLogits(p *packed, logits []float32, r *results) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	var e errBuf
	s := C.x_sample_logits(c.lib.fns, c.m, c.batch(p, &pin), (*C.float)(pinned(&pin, logits)), c.output(r, &pin), e.ptr())
	return c.status("sample logits", s, &e)
}

func (c *cmodel) TimeForward(p *packed, iters int) (float64, error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	var ms C.double
	var e errBuf
	if err := c.status("time forward", C.x_time_forward(c.lib.fns, c.m, c.batch(p, &pin), C.int32_t(iters), &ms, e.ptr()), &e); err != nil {
		return 0, err
	}
	return float64(ms), nil
}

func (c *cmodel) WeightBytes() int64       { return int64(C.x_weight_bytes(c.lib.fns, c.m)) }
func (c *cmodel) DecodeWeightBytes() int64 { return int64(C.x_decode_bytes(c.lib.fns, c.m)) }

func (c *cmodel) Destroy() {
	if c.m != nil {
		C.x_model_destroy(c.lib.fns, c.m)
		c.m = nil
	}
}
