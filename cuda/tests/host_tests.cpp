// Host-only checks, no GPU needed: the random streams match Go's.
#include <cmath>
#include <cstdio>

#include "common.h"

int main() {
  int failures = 0;
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
