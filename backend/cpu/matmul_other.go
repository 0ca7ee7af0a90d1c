//go:build !amd64 || purego

package cpu

func kernelName() string { return "go" }

func kernel(m, k int, x []float32, ldx int, panel []float32, out []float32, ldo int, _ int) {
	kernelGo(m, k, x, ldx, panel, out, ldo)
}

func sumStream(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return s0 + s1 + s2 + s3
}

func kernelWide(k int, x []float32, panels []float32, out []float32) bool { return false }

func dot(a, b []float32) float32               { return dotGo(a, b) }
func axpy(y []float32, a float32, x []float32) { axpyGo(y, a, x) }
