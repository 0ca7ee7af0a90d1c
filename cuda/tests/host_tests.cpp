// Host-only checks, no GPU needed: the random streams match Go's; the KV
// cache offsets, the sampler's ranking keys and the split-K plan obey the
// contracts the kernels rely on.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "common.h"
#include "index.h"

namespace {

int failures = 0;

#define EXPECT(cond, ...)                             \
  do {                                                \
    if (!(cond)) {                                    \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                       \
      std::printf("\n");                              \
      ++failures;                                     \
    }                                                 \
  } while (0)

// The CPU backend's kvCache.offset (backend/cpu/kvcache.go), in exact
// 64-bit arithmetic, for shapes up to a 70B model's.
void test_kv_offset() {
  struct Shape { int KVH, bs, D, blocks; } shapes[] = {
      {1, 1, 8, 3}, {2, 16, 8, 100}, {4, 16, 64, 1000}, {8, 16, 128, 600000}, {8, 32, 128, 300000},
      {8, 256, 256, 70000}, {64, 16, 128, 100000}};
  for (const Shape &s : shapes) {
    for (int blk : {0, 1, s.blocks / 2, s.blocks - 1}) {
      for (int kvh : {0, s.KVH - 1}) {
        for (int slot : {0, s.bs - 1}) {
          const int64_t want = ((int64_t)blk * s.KVH + kvh) * s.bs * s.D + (int64_t)slot * s.D;
          const int64_t got = sota::kv_offset(blk, kvh, slot, s.KVH, s.bs, s.D);
          EXPECT(got == want, "kv_offset(%d, %d, %d; KVH=%d bs=%d D=%d) = %lld, want %lld", blk, kvh, slot,
                 s.KVH, s.bs, s.D, (long long)got, (long long)want);
          // The last element of the layer is in range, the next block starts after this one's heads.
          EXPECT(got + s.D <= (int64_t)s.blocks * s.KVH * s.bs * s.D, "kv_offset past the layer");
        }
      }
    }
    // Consecutive positions of one head are contiguous within a block; heads follow.
    EXPECT(sota::kv_offset(0, 0, 1, s.KVH, s.bs, s.D) == s.D, "slot stride");
    EXPECT(sota::kv_offset(0, 1 % s.KVH, 0, s.KVH, s.bs, s.D) == (s.KVH > 1 ? (int64_t)s.bs * s.D : 0), "head stride");
    EXPECT(sota::kv_offset(1, 0, 0, s.KVH, s.bs, s.D) == (int64_t)s.KVH * s.bs * s.D, "block stride");
  }
}

// rank_key orders tokens as sample/doc.go ranks them: read_logit(x)
// descending, ties by lower id; -0 ties with +0; keys are distinct and
// key_token inverts them.
void test_rank_key() {
  std::mt19937_64 rng(7);
  const float specials[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 0.f, -0.f, FLT_MIN, -FLT_MIN,
                            1e-45f, -1e-45f, 1.f, -1.f};
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + (int)(rng() % 400);
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) {
      const uint64_t r = rng();
      if (r % 5 == 0) {
        x[i] = specials[(r >> 8) % (sizeof specials / sizeof specials[0])];
      } else if (r % 5 == 1) {
        x[i] = (float)((int)((r >> 8) % 9) - 4);  // many ties
      } else {
        uint32_t bits = (uint32_t)(r >> 16);
        std::memcpy(&x[i], &bits, 4);  // any bit pattern, NaNs included
      }
    }
    std::vector<int> want(n);
    std::iota(want.begin(), want.end(), 0);
    std::stable_sort(want.begin(), want.end(), [&](int a, int b) {
      return sota::read_logit(x[a]) > sota::read_logit(x[b]);
    });
    std::vector<uint64_t> keys(n);
    for (int i = 0; i < n; ++i) {
      keys[i] = sota::rank_key(sota::read_logit(x[i]), i);
      EXPECT(sota::key_token(keys[i]) == i, "key_token(rank_key(x, %d)) = %d", i, sota::key_token(keys[i]));
    }
    std::vector<int> got(n);
    std::iota(got.begin(), got.end(), 0);
    std::sort(got.begin(), got.end(), [&](int a, int b) { return keys[a] > keys[b]; });
    for (int i = 0; i < n; ++i) {
      if (got[i] != want[i]) {
        EXPECT(false, "trial %d: rank %d is token %d (x=%g), want %d (x=%g)", trial, i, got[i], x[got[i]],
               want[i], x[want[i]]);
        break;
      }
    }
    for (int i = 1; i < n; ++i) EXPECT(keys[got[i - 1]] != keys[got[i]], "duplicate rank keys");
  }
  // The greedy kernel starts its block maximum at key 0: every real key is above it.
  EXPECT(sota::rank_key(-INFINITY, 0x7FFFFFFF) > 0, "rank key of -Inf at the largest id is 0");
}

// split_plan: enough splits to cover the longest key range, chunks of
// whole 32-key tiles, partial rows within the buffer.
void test_split_plan() {
  const int64_t part_rows = (64ll << 20) / (4 * (128 + 2));
  for (int sms : {1, 78, 132, 148}) {
    for (int64_t blocks : {1ll, 2ll, 7ll, 64ll, 300ll, 100000ll}) {
      for (int range : {1, 31, 32, 255, 256, 257, 1000, 4097, 131072, 1 << 30}) {
        for (int64_t rows : {1ll, 32ll, 64ll * 32, 2048ll * 64, 65535ll * 128}) {
          int splits = 0, chunk = 0;
          sota::split_plan(blocks, sms, range, part_rows, rows, &splits, &chunk);
          EXPECT(splits >= 1 && splits <= 64, "splits %d", splits);
          if (splits == 1) {
            EXPECT(chunk == 1 << 30, "chunk %d without split", chunk);
            continue;
          }
          EXPECT(chunk % 32 == 0, "chunk %d not whole tiles", chunk);
          EXPECT((int64_t)splits * chunk >= range, "splits %d x chunk %d do not cover %d keys", splits, chunk, range);
          EXPECT((int64_t)splits * rows <= part_rows, "splits %d x %lld rows exceed the partials", splits,
                 (long long)rows);
          EXPECT(blocks < 2 * sms && range > 256, "split with %lld blocks on %d SMs, range %d", (long long)blocks,
                 sms, range);
        }
      }
    }
  }
}

}  // namespace

int main() {
  test_kv_offset();
  test_rank_key();
  test_split_plan();
  // sample.Uniform(seed, n), values printed by Go (sample/rng_test.go style).
  struct { uint64_t seed; int n; double want; } draws[] = {
#include "uniform_golden.inc"
  };
  for (auto &d : draws) {
    const double got = sota::uniform_draw(d.seed, d.n);
    if (got != d.want) {
      std::printf("FAIL uniform(%llu, %d) = %.17g, want %.17g\n", (unsigned long long)d.seed, d.n, got, d.want);
      ++failures;
    }
  }
  // model.Random: element i of a named tensor.
  struct { uint64_t seed; const char *name; uint64_t i; float want; } weights[] = {
#include "random_golden.inc"
  };
  const float a = (float)(0.02 * 1.7320508075688772);
  for (auto &w : weights) {
    const float u = sota::weight_uniform(sota::tensor_key(w.seed, w.name), w.i);
    volatile float two_u = 2.f * u;
    const float got = (two_u - 1.f) * a;
    if (got != w.want) {
      std::printf("FAIL random %s[%llu] = %.9g, want %.9g\n", w.name, (unsigned long long)w.i, got, w.want);
      ++failures;
    }
  }
  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
