package cpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

var lowpFormats = []WeightFormat{WeightsBF16, WeightsInt8}

// lowpFamilies runs fn with each kernel family of the bfloat16 and int8
// formats this CPU has: the AVX2 one (or the portable one) always, the
// AVX-512 one where the CPU has it.
func lowpFamilies(t *testing.T, fn func(t *testing.T)) {
	saved := useAVX512
	t.Cleanup(func() { useAVX512 = saved })
	useAVX512 = false
	t.Run(lowpKernelName(), fn)
	if !hasAVX512 {
		t.Logf("no AVX-512 kernels on this CPU or build (%s): AVX-512 family not tested", kernelName())
		return
	}
	useAVX512 = true
	t.Run(lowpKernelName(), fn)
}

// TestAVX512MatchesAVX2: the AVX-512 bfloat16 and int8 kernels give the AVX2
// kernels' bits (each lane is the same FMA chain), so a process's results do
// not depend on which of the two its CPU picks.
func TestAVX512MatchesAVX2(t *testing.T) {
	if !hasAVX512 {
		t.Skipf("this CPU or build has no AVX-512 kernels (kernels: %s)", lowpKernelName())
	}
	saved := useAVX512
	defer func() { useAVX512 = saved }()
	rng := rand.New(rand.NewPCG(17, 18))
	for _, f := range lowpFormats {
		for _, c := range matmulCases {
			x := randSlice(rng, c.rows*c.k)
			pm := packMatrixAs(randSlice(rng, c.n*c.k), c.n, c.k, f)
			pool := &workers{n: 2}
			z := make([]float32, c.rows*c.n)
			y := make([]float32, c.rows*c.n)
			useAVX512 = true
			pool.matmul(z, c.n, x, c.k, c.rows, pm)
			useAVX512 = false
			pool.matmul(y, c.n, x, c.k, c.rows, pm)
			for i := range z {
				if z[i] != y[i] {
					t.Fatalf("%s rows%d n%d k%d: out[%d] avx512 %v, avx2 %v", f, c.rows, c.n, c.k, i, z[i], y[i])
				}
			}
		}
	}
}

func TestToBF16(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie: to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie: to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81}, // past the tie: up
		{float32(math.Inf(1)), 0x7f80},
		{math.MaxFloat32, 0x7f80}, // rounds to +Inf, as torch does
		{0, 0},
	}
	for _, c := range cases {
		if got := toBF16(c.in); got != c.want {
			t.Errorf("toBF16(%v = %#x) = %#x, want %#x", c.in, math.Float32bits(c.in), got, c.want)
		}
	}
	if nan := fromBF16(toBF16(float32(math.NaN()))); !math.IsNaN(float64(nan)) {
		t.Errorf("NaN became %v", nan)
	}
}

func TestQuantizeBlock(t *testing.T) {
	cases := []struct {
		name  string
		w     []float32
		scale float32
		q     []int8
	}{
		{"max maps to 127", []float32{1.27, -0.635, 0, 0.01}, 0.01, []int8{127, -64, 0, 1}},
		{"negative max", []float32{-2.54, 1}, 0.02, []int8{-127, 50}},
		{"all zero", []float32{0, 0}, 0, []int8{0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := make([]int8, len(c.w))
			s := quantizeBlock(q, c.w)
			if math.Abs(float64(s-c.scale)) > 1e-7 {
				t.Fatalf("scale %v, want %v", s, c.scale)
			}
			for i := range q {
				if q[i] != c.q[i] {
					t.Fatalf("q %v, want %v", q, c.q)
				}
			}
		})
	}
}

var matmulCases = []struct{ rows, n, k int }{
	{1, 16, 8}, {1, 17, 3}, {2, 5, 64}, {3, 48, 64}, {6, 64, 100}, {1, 64, 33},
	{7, 33, 17}, {13, 100, 64}, {16, 768, 96}, {1, 1, 1}, {40, 31, 5}, {1, 96, 70},
}

// TestLowpMatmulMatchesFloat32: a bfloat16 or int8 matmul gives bit for bit
// what the float32 matmul gives on the weights it stands for (bfloat16
// widening is exact; int8's weight × scale is rounded the same way in every
// kernel), and is within float32 rounding of the float64 reference on those
// weights.
func TestLowpMatmulMatchesFloat32(t *testing.T) { lowpFamilies(t, testLowpMatmulMatchesFloat32) }

func testLowpMatmulMatchesFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, f := range lowpFormats {
		for _, c := range matmulCases {
			for _, threads := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/rows%d_n%d_k%d_t%d", f, c.rows, c.n, c.k, threads), func(t *testing.T) {
					x := randSlice(rng, c.rows*c.k)
					pm := packMatrixAs(randSlice(rng, c.n*c.k), c.n, c.k, f)
					deq := pm.dequantized()
					pool := &workers{n: threads}
					got := make([]float32, c.rows*c.n)
					pool.matmul(got, c.n, x, c.k, c.rows, pm)
					want := make([]float32, c.rows*c.n)
					pool.matmul(want, c.n, x, c.k, c.rows, packMatrix(deq, c.n, c.k))
					ref := naiveMatmul(x, c.rows, c.k, deq, c.n)
					tol := 1e-5 * math.Sqrt(float64(c.k)) * 4
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("out[%d] = %v, float32 kernel on the same weights %v", i, got[i], want[i])
						}
						if d := math.Abs(float64(got[i]) - ref[i]); d > tol {
							t.Fatalf("out[%d] = %v, reference %v (diff %g > %g)", i, got[i], ref[i], d, tol)
						}
					}
				})
			}
		}
	}
}

// TestLowpKernelsGoMatchAsm checks the portable kernels against the ones in
// use, for k inside one int8 block, across blocks and partial last blocks.
func TestLowpKernelsGoMatchAsm(t *testing.T) { lowpFamilies(t, testLowpKernelsGoMatchAsm) }

func testLowpKernelsGoMatchAsm(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, f := range lowpFormats {
		for m := 1; m <= maxKernelRows; m++ {
			for _, k := range []int{1, 2, 31, 32, 33, 77, 96} {
				x := randSlice(rng, m*k)
				pm := packMatrixAs(randSlice(rng, panelWidth*k), panelWidth, k, f)
				got := make([]float32, m*panelWidth)
				want := make([]float32, m*panelWidth)
				pm.kernel(m, 0, x, k, got, panelWidth, 0)
				if f == WeightsBF16 {
					kernelBF16Go(m, k, x, k, pm.bf16, want, panelWidth)
				} else {
					kernelQ8Go(m, k, x, k, pm.q8, pm.scales, want, panelWidth)
				}
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
						t.Fatalf("%s m=%d k=%d [%d]: %s kernel %v, go kernel %v", f, m, k, i, lowpKernelName(), got[i], want[i])
					}
				}
			}
		}
	}
}

// TestLowpQuantizationError bounds the weight error itself: bfloat16 keeps 8
// significant bits (relative error ≤ 2⁻⁸), int8 is within half a step of its
// block's scale (max|w|/127/2).
func TestLowpQuantizationError(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const n, k = 40, 100
	w := randSlice(rng, n*k)
	for _, f := range lowpFormats {
		deq := packMatrixAs(w, n, k, f).dequantized()
		for row := 0; row < n; row++ {
			for j := 0; j < k; j++ {
				i := row*k + j
				var bound float64
				if f == WeightsBF16 {
					bound = math.Abs(float64(w[i])) / 256
				} else {
					lo, hi := j/q8Block*q8Block, min(j/q8Block*q8Block+q8Block, k)
					var amax float64
					for _, v := range w[row*k+lo : row*k+hi] {
						amax = max(amax, math.Abs(float64(v)))
					}
					bound = amax/127/2*(1+1e-6) + 1e-12
				}
				if d := math.Abs(float64(deq[i] - w[i])); d > bound {
					t.Fatalf("%s: w[%d,%d] = %v stored as %v (error %g > %g)", f, row, j, w[i], deq[i], d, bound)
				}
			}
		}
	}
}

// TestWeightBytes: the memory check's prediction is what the converted
// weights occupy, in every format, and the formats shrink as they should.
func TestWeightBytes(t *testing.T) {
	for _, arch := range []string{"llama-tiny", "mistral-tiny", "qwen2-tiny"} {
		m := loadModel(t, testmodels.Testdata(t, arch))
		var f32 int64
		for _, f := range []WeightFormat{WeightsF32, WeightsBF16, WeightsInt8} {
			t.Run(arch+"/"+f.String(), func(t *testing.T) {
				be := newTestBackend(t, m, Options{NumBlocks: 4, Weights: f})
				got, want := be.WeightBytes(), weightBytes(&m.Config, f)
				if got != want {
					t.Fatalf("weights occupy %d bytes, weightBytes predicts %d", got, want)
				}
				if f == WeightsF32 {
					f32 = got
				} else if f32 > 0 && got >= f32*3/5 {
					t.Fatalf("%s weights %d bytes, float32 %d", f, got, f32)
				}
				t.Logf("%d bytes (%d per token)", got, be.WeightBytesPerToken())
			})
		}
	}
}

func TestParseWeightFormat(t *testing.T) {
	for _, f := range []WeightFormat{WeightsF32, WeightsBF16, WeightsInt8} {
		if got, err := ParseWeightFormat(f.String()); err != nil || got != f {
			t.Errorf("ParseWeightFormat(%q) = %v, %v", f, got, err)
		}
	}
	if _, err := ParseWeightFormat("fp8"); err == nil {
		t.Error("fp8 accepted")
	}
}

// TestMemoryCheckUsesFormatBytes: the memory check counts the bytes the
// chosen format holds, so a budget between the bfloat16 and the float32
// size admits the one and refuses the other, naming the format.
func TestMemoryCheckUsesFormatBytes(t *testing.T) {
	m := loadModel(t, testmodels.Testdata(t, "llama-tiny"))
	g, err := geometry(&m.Config, &Options{NumBlocks: 4})
	if err != nil {
		t.Fatal(err)
	}
	kv := int64(g.NumBlocks) * kvBytesPerBlock(m.Config.NumLayers, g.BlockSize, m.Config.NumKVHeads, m.Config.HeadDim)
	budget := kv + (weightBytes(&m.Config, WeightsF32)+weightBytes(&m.Config, WeightsBF16))/2
	cases := []struct {
		format  WeightFormat
		wantErr string
	}{
		{WeightsF32, "float32 weights"},
		{WeightsBF16, ""},
		{WeightsInt8, ""},
	}
	for _, c := range cases {
		t.Run(c.format.String(), func(t *testing.T) {
			err := checkMemory(&m.Config, g, c.format, budget)
			if c.wantErr == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.wantErr != "" && (!errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want ErrOutOfMemory naming %q", err, c.wantErr)
			}
		})
	}
	if _, err := New(m, Options{NumBlocks: 4, MemoryAvailable: -1, Weights: WeightsInt8 + 1}); err == nil {
		t.Fatal("an unknown weight format was accepted")
	}
}
