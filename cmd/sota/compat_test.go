package main

import (
	"strings"
	"testing"

	"github.com/sotasystems/sota/backend/cpu"
)

// TestWeightFormat: --dtype and --quantization choose the CPU's weight
// storage; auto follows the checkpoint (bfloat16 for 16-bit ones).
func TestWeightFormat(t *testing.T) {
	cases := []struct {
		device, dtype, quant, stored string
		want                         cpu.WeightFormat
		wantErr                      string
	}{
		{deviceCPU, "auto", "none", "F32", cpu.WeightsF32, ""},
		{deviceCPU, "auto", "none", "BF16", cpu.WeightsBF16, ""},
		{deviceCPU, "auto", "none", "F16", cpu.WeightsBF16, ""},
		{deviceCPU, "auto", "none", "bfloat16", cpu.WeightsBF16, ""}, // generated weights: the config's torch_dtype
		{deviceCPU, "", "", "float32", cpu.WeightsF32, ""},
		{deviceCPU, "float32", "none", "BF16", cpu.WeightsF32, ""},
		{deviceCPU, "float", "none", "BF16", cpu.WeightsF32, ""},
		{deviceCPU, "bfloat16", "none", "F32", cpu.WeightsBF16, ""},
		{deviceCPU, "float16", "none", "F16", 0, "stores float32 or bfloat16"},
		{deviceCPU, "half", "none", "F16", 0, "stores float32 or bfloat16"},
		{deviceCPU, "auto", "int8", "BF16", cpu.WeightsInt8, ""},
		{deviceCPU, "float32", "int8", "F32", cpu.WeightsInt8, ""},
		{deviceCPU, "bfloat16", "int8", "F32", 0, "compute in float32"},
		{deviceCPU, "auto", "fp8", "F32", 0, "want int8"},
		{deviceCUDA, "auto", "none", "F32", cpu.WeightsBF16, ""},
		{deviceCUDA, "float32", "none", "F32", 0, "computes in bfloat16"},
		{deviceCUDA, "auto", "int8", "F32", 0, "only the CPU backend quantizes"},
	}
	for _, c := range cases {
		t.Run(c.device+"/"+c.dtype+"/"+c.quant+"/"+c.stored, func(t *testing.T) {
			d := deviceFlags{Device: c.device, DType: c.dtype, Quantization: c.quant}
			got, err := d.weightFormat(c.stored)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("weightFormat = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}
