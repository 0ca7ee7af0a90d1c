// Plain CPU references of the kernels, for the CTest kernel tests.
#pragma once

#include <cstdint>
#include <vector>

#include "sota.h"

namespace ref {

// sample/doc.go step by step, with a full sort and sequential FP64 sums.
struct SampleResult {
  int token = -1;
  double logprob = 0;
  std::vector<int> top;
};
SampleResult sample(const std::vector<float> &logits, const sota_sample_params &p,
                    const std::vector<int> &pen_ids, const std::vector<int> &pen_counts,
                    const std::vector<int> &bias_ids, const std::vector<float> &bias_values);

}  // namespace ref
