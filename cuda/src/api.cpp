// The C ABI: every entry point catches sota::Error (and anything else) and
// turns it into a status code plus the thread's last-error string.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"
#include "model.h"

struct sota_model {
  std::unique_ptr<sota::Model> impl;
};

namespace sota {

namespace {
thread_local std::string last_error;
}

[[noreturn]] void fail(sota_status s, const std::string &msg) { throw Error{s, msg}; }

void check_cuda(cudaError_t e, const char *what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error
  sota_status s = SOTA_ERR_CUDA;
  switch (e) {
    case cudaErrorMemoryAllocation:
      s = SOTA_ERR_OUT_OF_MEMORY;
      break;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
      s = SOTA_ERR_NO_DEVICE;
      break;
    default:
      break;
  }
  fail(s, std::string(what) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

template <typename F>
sota_status guard(F &&f) {
  try {
    f();
    last_error.clear();
    return SOTA_OK;
  } catch (const Error &e) {
    last_error = e.msg;
    return e.status;
  } catch (const std::bad_alloc &) {
    last_error = "host memory exhausted";
    return SOTA_ERR_OUT_OF_MEMORY;
  } catch (const std::exception &e) {
    last_error = e.what();
    return SOTA_ERR_CUDA;
  } catch (...) {
    last_error = "unknown error";
    return SOTA_ERR_CUDA;
  }
}

Model &impl(sota_model *m) {
  if (!m || !m->impl) fail(SOTA_ERR_INVALID_ARGUMENT, "null model");
  return *m->impl;
}

}  // namespace sota

using sota::guard;
using sota::impl;

extern "C" {

int32_t sota_abi_version(void) { return SOTA_ABI_VERSION; }

const char *sota_last_error(void) { return sota::last_error.c_str(); }

sota_status sota_device_count(int32_t *count) {
  return guard([&] {
    if (!count) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null count");
    *count = 0;
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice) {
      cudaGetLastError();
      return;
    }
    if (e == cudaErrorInsufficientDriver) {
      cudaGetLastError();
      sota::fail(SOTA_ERR_NO_DEVICE,
                 "no usable NVIDIA driver: libcuda.so is missing or older than the CUDA runtime "
                 "of this library (cudaErrorInsufficientDriver)");
    }
    sota::check_cuda(e, "cudaGetDeviceCount");
    *count = n;
  });
}

sota_status sota_device_info_get(int32_t device, sota_device_info *out) {
  return guard([&] {
    if (!out) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null info");
    std::memset(out, 0, sizeof(*out));
    cudaDeviceProp prop{};
    SOTA_CUDA(cudaGetDeviceProperties(&prop, device));
    std::memcpy(out->name, prop.name, std::min(sizeof(out->name), sizeof(prop.name)) - 1);
    out->major = prop.major;
    out->minor = prop.minor;
    out->multiprocessors = prop.multiProcessorCount;
    out->l2_bytes = prop.l2CacheSize;
    out->total_memory = (int64_t)prop.totalGlobalMem;
    int prev = 0;
    SOTA_CUDA(cudaGetDevice(&prev));
    SOTA_CUDA(cudaSetDevice(device));
    size_t free_b = 0, total = 0;
    const cudaError_t e = cudaMemGetInfo(&free_b, &total);
    cudaSetDevice(prev);
    SOTA_CUDA(e);
    out->free_memory = (int64_t)free_b;
    int v = 0;
    SOTA_CUDA(cudaDriverGetVersion(&v));
    out->driver_version = v;
    SOTA_CUDA(cudaRuntimeGetVersion(&v));
    out->runtime_version = v;
  });
}

sota_status sota_model_create(const sota_model_config *config, int32_t device, sota_model **out) {
  return guard([&] {
    if (!config || !out) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null config or handle");
    *out = nullptr;
    auto m = std::make_unique<sota_model>();
    m->impl = std::make_unique<sota::Model>(*config, device);
    *out = m.release();
  });
}

void sota_model_destroy(sota_model *m) { delete m; }

sota_status sota_model_upload(sota_model *m, const char *name, sota_dtype dtype, const int64_t *shape,
                              int32_t ndim, int64_t offset, int64_t count, const void *data) {
  return guard([&] {
    if (!name) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null tensor name");
    impl(m).upload(name, dtype, shape, ndim, offset, count, data);
  });
}

sota_status sota_model_random_weight(sota_model *m, const char *name, uint64_t seed) {
  return guard([&] {
    if (!name) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null tensor name");
    impl(m).random_weight(name, seed);
  });
}

int64_t sota_model_weight_bytes(const sota_model *m) {
  return m && m->impl ? m->impl->weight_bytes() : 0;
}

int64_t sota_model_decode_weight_bytes(const sota_model *m) {
  return m && m->impl ? m->impl->decode_weight_bytes() : 0;
}

sota_status sota_model_init_cache(sota_model *m, const sota_cache_options *opts, sota_geometry *out) {
  return guard([&] {
    sota_cache_options o{};
    if (opts) o = *opts;
    impl(m).init_cache(o, out);
  });
}

sota_status sota_forward(sota_model *m, const sota_batch *batch, sota_output *out) {
  return guard([&] {
    if (!batch || !out) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null batch or output");
    impl(m).forward(*batch, out);
  });
}

sota_status sota_forward_logits(sota_model *m, const sota_batch *batch, float *logits) {
  return guard([&] {
    if (!batch) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null batch");
    impl(m).forward_logits(*batch, logits);
  });
}

sota_status sota_sample_logits(sota_model *m, const sota_batch *batch, const float *logits,
                               sota_output *out) {
  return guard([&] {
    if (!batch || !out) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null batch or output");
    impl(m).sample_logits(*batch, logits, out);
  });
}

sota_status sota_time_forward(sota_model *m, const sota_batch *batch, int32_t iters, double *ms) {
  return guard([&] {
    if (!batch || !ms) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "null batch or result");
    *ms = impl(m).time_forward(*batch, iters);
  });
}

sota_status sota_measure_copy_bandwidth(int32_t device, int64_t bytes, int32_t iters, double *gbps) {
  return guard([&] {
    if (!gbps || bytes < (1 << 20) || iters < 1) sota::fail(SOTA_ERR_INVALID_ARGUMENT, "need >= 1 MiB, iters >= 1");
    SOTA_CUDA(cudaSetDevice(device));
    bytes &= ~int64_t(15);
    void *a = nullptr, *b = nullptr;
    cudaEvent_t start = nullptr, stop = nullptr;
    auto cleanup = [&] {
      if (a) cudaFree(a);
      if (b) cudaFree(b);
      if (start) cudaEventDestroy(start);
      if (stop) cudaEventDestroy(stop);
    };
    try {
      SOTA_CUDA(cudaMalloc(&a, bytes));
      SOTA_CUDA(cudaMalloc(&b, bytes));
      SOTA_CUDA(cudaMemset(a, 0x5a, bytes));  // not zeros: see the device notes
      SOTA_CUDA(cudaEventCreate(&start));
      SOTA_CUDA(cudaEventCreate(&stop));
      sota::launch_copy(a, b, bytes, nullptr);
      SOTA_CUDA(cudaDeviceSynchronize());
      std::vector<float> ms(iters);
      for (int i = 0; i < iters; ++i) {
        SOTA_CUDA(cudaEventRecord(start));
        sota::launch_copy(i % 2 ? b : a, i % 2 ? a : b, bytes, nullptr);
        SOTA_CUDA(cudaEventRecord(stop));
        SOTA_CUDA(cudaEventSynchronize(stop));
        SOTA_CUDA(cudaEventElapsedTime(&ms[i], start, stop));
      }
      std::sort(ms.begin(), ms.end());
      *gbps = 2.0 * (double)bytes / (ms[iters / 2] * 1e-3) / 1e9;
    } catch (...) {
      cleanup();
      throw;
    }
    cleanup();
  });
}

}  // extern "C"
