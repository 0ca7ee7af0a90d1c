#include "reference.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>

#include "common.h"

namespace ref {

namespace {
float read_logit(float v) {
  if (v <= FLT_MAX) return v;
  if (v != v) return -INFINITY;
  return FLT_MAX;
}
}  // namespace

SampleResult sample(const std::vector<float> &raw, const sota_sample_params &p,
                    const std::vector<int> &pen_ids, const std::vector<int> &pen_counts,
                    const std::vector<int> &bias_ids, const std::vector<float> &bias_values) {
  const int V = (int)raw.size();
  SampleResult r;
  auto rank = [](const std::vector<float> &x) {
    std::vector<int> order(x.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return read_logit(x[a]) > read_logit(x[b]); });
    return order;
  };
  double m_raw = -INFINITY, log_z = 0;
  if (p.logprobs || p.top_logprobs > 0) {
    for (float v : raw) m_raw = std::max(m_raw, (double)read_logit(v));
    double s = 0;
    for (float v : raw) s += std::exp((double)read_logit(v) - m_raw);
    log_z = std::log(s);
    const auto order = rank(raw);
    for (int k = 0; k < std::min(p.top_logprobs, V); ++k) r.top.push_back(order[k]);
  }
  std::vector<float> x = raw;
  for (size_t i = 0; i < bias_ids.size(); ++i) x[bias_ids[i]] += bias_values[i];
  const bool rep = p.repetition_penalty != 0 && p.repetition_penalty != 1;
  for (size_t i = 0; i < pen_ids.size(); ++i) {
    float &v = x[pen_ids[i]];
    if (rep) v = v > 0 ? v / p.repetition_penalty : v * p.repetition_penalty;
    if (pen_counts[i] > 0 && (p.presence_penalty != 0 || p.frequency_penalty != 0)) {
      volatile float f = p.frequency_penalty * (float)pen_counts[i];
      v -= f + p.presence_penalty;
    }
  }
  for (float &v : x) v = read_logit(v);
  const auto order = rank(x);
  if (x[order[0]] == -INFINITY) return r;
  if (p.temperature == 0) {
    r.token = order[0];
  } else {
    const float m = x[order[0]];
    std::vector<float> w(V);
    for (int j = 0; j < V; ++j) {
      const float z = (x[order[j]] - m) / p.temperature;
      w[j] = z > -88.f ? (float)std::exp((double)z) : 0.f;
    }
    int L = V;
    if (p.top_k > 0 && p.top_k < V) L = p.top_k;
    double zL = 0;
    for (int j = 0; j < L; ++j) zL += w[j];
    if (p.top_p > 0 && p.top_p < 1) {
      const double target = (double)p.top_p * zL;
      double c = 0;
      for (int j = 0; j < L; ++j) {
        c += w[j];
        if (c >= target) {
          L = j + 1, zL = c;
          break;
        }
      }
    }
    if (p.min_p > 0) {
      double c = 0;
      for (int j = 0; j < L; ++j) {
        if (w[j] < p.min_p) {
          if (j > 0) L = j, zL = c;
          break;
        }
        c += w[j];
      }
    }
    const double target = sota::uniform_draw(p.seed, p.output_len) * zL;
    double c = 0;
    int pick = -1;
    for (int j = 0; j < L; ++j) {
      c += w[j];
      if (c > target) {
        pick = j;
        break;
      }
    }
    if (pick < 0) {
      pick = L - 1;
      while (pick > 0 && w[pick] == 0) --pick;
    }
    r.token = order[pick];
  }
  if (p.logprobs || p.top_logprobs > 0) r.logprob = (double)read_logit(raw[r.token]) - m_raw - log_z;
  return r;
}

}  // namespace ref
