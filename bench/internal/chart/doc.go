// Package chart draws line and bar charts to PNG with gonum.org/v1/plot, in
// the one style sota-bench's charts share. It knows nothing of benchmarks:
// package bench turns a result into panels and bars.
package chart
