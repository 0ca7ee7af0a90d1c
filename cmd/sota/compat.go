package main

import "fmt"

// Flags of vLLM's command line that users copy, accepted where sota means
// the same. Flags sota does not have are refused by the parser, with the
// closest name it knows.

// compatFlags are serve's vLLM flags that change nothing in sota.
type compatFlags struct {
	EnableAutoToolChoice bool `name:"enable-auto-tool-choice" help:"Accepted for vLLM command lines: tool calls are always parsed when the model has a --tool-call-parser (auto finds it)." env:"SOTA_ENABLE_AUTO_TOOL_CHOICE"`
}

// checkDType accepts --dtype auto and the dtype the device computes in: the
// CPU backend float32, the CUDA backend bfloat16.
func (d *deviceFlags) checkDType() error {
	want := map[string]string{deviceCPU: "float32", deviceCUDA: "bfloat16", "": "float32"}[d.Device]
	got := map[string]string{"float": "float32", "half": "float16"}[d.DType]
	if got == "" {
		got = d.DType
	}
	if got == "auto" || got == "" || got == want {
		return nil
	}
	return fmt.Errorf("--dtype %s: --device %s computes in %s (give --dtype auto or %s; weights stored as F32, F16 or BF16 are converted)",
		d.DType, d.Device, want, want)
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
