package main

import (
	"fmt"
	"strings"

	"github.com/sotasystems/sota/backend/cpu"
)

// Flags of vLLM's command line that users copy, accepted where sota means
// the same. Flags sota does not have are refused by the parser, with the
// closest name it knows.

// compatFlags are serve's vLLM flags that change nothing in sota.
type compatFlags struct {
	EnableAutoToolChoice bool `name:"enable-auto-tool-choice" help:"Accepted for vLLM command lines: tool calls are always parsed when the model has a --tool-call-parser (auto finds it)." env:"SOTA_ENABLE_AUTO_TOOL_CHOICE"`
}

// weightFormat reads --dtype and --quantization for the device. The CPU
// stores weights as float32 or bfloat16 (--dtype; auto: bfloat16 for
// bfloat16 and float16 checkpoints, float32 otherwise) or as int8 with
// per-block scales (--quantization int8), and accumulates in float32 in
// every case; the CUDA backend computes in bfloat16 and quantizes nothing.
// stored is the checkpoint's dtype (model.DType or a config torch_dtype).
func (d *deviceFlags) weightFormat(stored string) (cpu.WeightFormat, error) {
	dtype := map[string]string{"float": "float32", "half": "float16", "": "auto"}[d.DType]
	if dtype == "" {
		dtype = d.DType
	}
	if d.Quantization != "" && d.Quantization != "none" && d.Quantization != "int8" {
		return 0, fmt.Errorf("--quantization %s: want int8 (8-bit weights with per-block scales, CPU only)", d.Quantization)
	}
	quantize := d.Quantization == "int8"
	if d.Device == deviceCUDA {
		if quantize {
			return 0, fmt.Errorf("--quantization int8: only the CPU backend quantizes (the CUDA backend computes in bfloat16)")
		}
		if dtype != "auto" && dtype != "bfloat16" {
			return 0, fmt.Errorf("--dtype %s: --device cuda computes in bfloat16 (give --dtype auto or bfloat16)", d.DType)
		}
		return cpu.WeightsBF16, nil
	}
	switch {
	case quantize && (dtype == "auto" || dtype == "float32"):
		return cpu.WeightsInt8, nil
	case quantize:
		return 0, fmt.Errorf("--dtype %s with --quantization int8: int8 weights compute in float32 (give --dtype auto or float32)", d.DType)
	case dtype == "float32":
		return cpu.WeightsF32, nil
	case dtype == "bfloat16":
		return cpu.WeightsBF16, nil
	case dtype == "float16":
		return 0, fmt.Errorf("--dtype %s: --device cpu stores float32 or bfloat16 weights (give --dtype auto, float32 or bfloat16; auto stores float16 checkpoints as bfloat16)", d.DType)
	}
	switch strings.ToLower(stored) {
	case "bf16", "bfloat16", "f16", "float16":
		return cpu.WeightsBF16, nil
	}
	return cpu.WeightsF32, nil
}

// stopTokenIDs are the ids that end a served generation: the model's EOS
// ids and, for the built-in demo model, its BOS too. stories260K was trained
// on stories each opened by BOS and never emits EOS: the BOS it writes after
// a story's last sentence is where the story, and so the chat turn, ends.
// (generate keeps the model's own EOS ids, so its greedy text stays the
// reference's.)
func stopTokenIDs(src modelSource, l *loaded) []int32 {
	eos := l.m.EOSTokenIDs()
	if src.Dir == "" && !src.RandomWeights && l.m.Config.BOSTokenID >= 0 {
		eos = append(append([]int32(nil), eos...), l.m.Config.BOSTokenID)
	}
	return eos
}
