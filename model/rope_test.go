package model

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// llama3Reference recomputes Llama 3.1's scaled frequency i from the
// published formula, written independently of RopeInvFreq: frequencies with
// wavelength below original/high_freq_factor stay, those above
// original/low_freq_factor are divided by factor, and in between the result
// is interpolated with ratio = original/wavelength.
func llama3Reference(theta float64, dim, i int, factor, low, high float64, orig int) float64 {
	freq := math.Pow(theta, -float64(2*i)/float64(dim))
	wavelen := 2 * math.Pi / freq
	if wavelen < float64(orig)/high {
		return freq
	}
	if wavelen > float64(orig)/low {
		return freq / factor
	}
	ratio := float64(orig)/wavelen - low
	smooth := ratio / (high - low)
	return freq/factor + smooth*(freq-freq/factor)
}

func TestRopeInvFreq(t *testing.T) {
	llama31 := Config{HeadDim: 128, RopeTheta: 500000,
		RopeScaling: &RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}}
	got := llama31.RopeInvFreq()
	if len(got) != 64 {
		t.Fatalf("%d frequencies, want 64", len(got))
	}
	kept, divided, smoothed := 0, 0, 0
	for i, f := range got {
		want := llama3Reference(500000, 128, i, 8, 1, 4, 8192)
		if math.Abs(f-want) > 1e-12*want {
			t.Errorf("inv_freq[%d] = %.12g, want %.12g", i, f, want)
		}
		plain := math.Pow(500000, -float64(2*i)/128)
		switch {
		case f == plain:
			kept++
		case math.Abs(f-plain/8) < 1e-15*plain:
			divided++
		default:
			smoothed++
		}
	}
	if kept == 0 || divided == 0 || smoothed == 0 {
		t.Errorf("kept %d, divided %d, smoothed %d: every regime should be exercised", kept, divided, smoothed)
	}

	// printed by transformers 5.23 (_compute_llama3_parameters, float32) for
	// llama-3.1-8b-instruct's config.json
	transformers := map[int]float64{0: 1.0, 1: 0.814617217, 20: 0.0165604409, 28: 0.00321144611,
		29: 0.00216657063, 30: 0.00137189368, 35: 9.55621217e-05, 36: 7.78465546e-05, 63: 3.06892588e-07}
	for i, want := range transformers {
		if math.Abs(got[i]-want) > 2e-6*want {
			t.Errorf("inv_freq[%d] = %.9g, transformers %.9g", i, got[i], want)
		}
	}

	linear := Config{HeadDim: 16, RopeTheta: 10000, RopeScaling: &RopeScaling{Type: "linear", Factor: 4}}
	// transformers 5.23, _compute_linear_scaling_rope_parameters
	wantLinear := []float64{0.25, 0.079056941, 0.0250000004, 0.00790569466, 0.00249999994, 0.000790569466, 0.000250000012, 7.90569466e-05}
	for i, f := range linear.RopeInvFreq() {
		if math.Abs(f-wantLinear[i]) > 1e-7*wantLinear[i] {
			t.Errorf("linear inv_freq[%d] = %.9g, want %.9g", i, f, wantLinear[i])
		}
	}

	plain := Config{HeadDim: 8, RopeTheta: 10000}
	for i, f := range plain.RopeInvFreq() {
		if want := 1 / math.Pow(10000, float64(2*i)/8); f != want {
			t.Errorf("plain inv_freq[%d] = %v, want %v", i, f, want)
		}
	}
}

func TestRopeInvFreqLlamaTiny(t *testing.T) {
	dir := testmodels.Testdata(t, "llama-tiny")
	c, err := LoadConfigFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(dir + "/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		RopeInvFreq []float64 `json:"rope_inv_freq"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	got := c.RopeInvFreq()
	if len(got) != len(golden.RopeInvFreq) || len(got) == 0 {
		t.Fatalf("%d frequencies, golden has %d", len(got), len(golden.RopeInvFreq))
	}
	for i, want := range golden.RopeInvFreq {
		if math.Abs(got[i]-want) > 2e-6*want {
			t.Errorf("inv_freq[%d] = %.9g, transformers %.9g", i, got[i], want)
		}
	}
}
