// Package stats holds the summary statistics sota-bench reports: mean,
// population standard deviation, percentiles with linear interpolation
// (numpy.percentile's default, which vllm bench serve uses) and Jain's
// fairness index. Pure functions over slices; callers own the data.
package stats
