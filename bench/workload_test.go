package bench

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestRandom(t *testing.T) {
	ps, err := Random(NewRand(1), RandomConfig{NumPrompts: 2000, InputLen: 100, OutputLen: 50, RangeRatio: 0.2, PrefixLen: 5})
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.Join(strings.Fields(ps[0].Text)[:5], " ")
	seenLo, seenHi := false, false
	for _, p := range ps {
		n := len(strings.Fields(p.Text))
		if n != p.InputLen || n < 5+80 || n > 5+120 {
			t.Fatalf("prompt of %d words, InputLen %d: want 85..125", n, p.InputLen)
		}
		if p.OutputLen < 40 || p.OutputLen > 60 || !p.IgnoreEOS {
			t.Fatalf("output len %d (ignore_eos %v), want 40..60 with ignore_eos", p.OutputLen, p.IgnoreEOS)
		}
		seenLo = seenLo || p.OutputLen == 40
		seenHi = seenHi || p.OutputLen == 60
		if !strings.HasPrefix(p.Text, prefix+" ") {
			t.Fatal("the random prefix is not shared")
		}
	}
	if !seenLo || !seenHi {
		t.Error("the range's ends are never drawn")
	}
	again, _ := Random(NewRand(1), RandomConfig{NumPrompts: 2000, InputLen: 100, OutputLen: 50, RangeRatio: 0.2, PrefixLen: 5})
	if again[7].Text != ps[7].Text {
		t.Error("the same seed gave other prompts")
	}
	fixedLen, _ := Random(NewRand(2), RandomConfig{NumPrompts: 3, InputLen: 7, OutputLen: 9})
	for _, p := range fixedLen {
		if p.InputLen != 7 || p.OutputLen != 9 {
			t.Errorf("range ratio 0: %d/%d, want 7/9", p.InputLen, p.OutputLen)
		}
	}
	if _, err := Random(NewRand(1), RandomConfig{NumPrompts: 1, InputLen: 1, OutputLen: 1, RangeRatio: 1}); err == nil {
		t.Error("range ratio 1 accepted")
	}
}

func TestSharedPrefix(t *testing.T) {
	ps, err := SharedPrefix(NewRand(1), SharedPrefixConfig{NumPrompts: 12, NumPrefixes: 3, PrefixLen: 50, SuffixLen: 10, OutputLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range ps {
		count[p.System]++
		if len(strings.Fields(p.System)) != 50 || len(strings.Fields(p.Text)) != 10 || p.InputLen != 60 {
			t.Fatalf("prompt %+v", p)
		}
		if m := p.ChatMessages(); len(m) != 2 || m[0].Role != "system" || m[1].Content != p.Text {
			t.Fatalf("chat messages %+v", m)
		}
		if !strings.HasPrefix(p.CompletionText(), p.System+" ") {
			t.Fatal("completion text does not start with the shared prefix")
		}
	}
	if len(count) != 3 {
		t.Fatalf("%d distinct prefixes, want 3", len(count))
	}
	for _, c := range count {
		if c != 4 {
			t.Errorf("a prefix used %d times, want 4", c)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "p.jsonl")
	lines := `{"conversations":[{"from":"human","value":"What is two plus two?"},{"from":"gpt","value":"It is four, as everyone knows."}]}
{"conversations":[{"from":"gpt","value":"a reply first is skipped"}]}
{"prompt":"Tell me a story","output_len":42}

{"prompt":"Plain prompt"}
{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello there!"}]}
`
	if err := os.WriteFile(jsonl, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := File(NewRand(1), FileConfig{Path: jsonl, NumPrompts: 6, DefaultOutputLen: 128})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		text string
		out  int
		msgs int
	}{
		{"What is two plus two?", EstimateTokens("It is four, as everyone knows."), 0},
		{"Tell me a story", 42, 0},
		{"Plain prompt", 128, 0},
		{"Be brief.\nHi", EstimateTokens("Hello there!"), 2},
		{"What is two plus two?", EstimateTokens("It is four, as everyone knows."), 0}, // cycled
	}
	for i, w := range want {
		if ps[i].CompletionText() != w.text || ps[i].OutputLen != w.out || len(ps[i].Messages) != w.msgs {
			t.Errorf("prompt %d = %q out %d msgs %d, want %q out %d msgs %d", i, ps[i].CompletionText(), ps[i].OutputLen, len(ps[i].Messages), w.text, w.out, w.msgs)
		}
	}
	// A JSON array (the ShareGPT file as published) with a fixed output length.
	arr := filepath.Join(dir, "sharegpt.json")
	_ = os.WriteFile(arr, []byte(`[{"conversations":[{"from":"human","value":"q1"},{"from":"gpt","value":"a1"}]},{"conversations":[{"from":"human","value":"q2"}]}]`), 0o644)
	ps, err = File(NewRand(1), FileConfig{Path: arr, OutputLen: 7, IgnoreEOS: true})
	if err != nil || len(ps) != 2 || ps[1].Text != "q2" || ps[0].OutputLen != 7 || !ps[0].IgnoreEOS {
		t.Errorf("array: %+v, %v", ps, err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	_ = os.WriteFile(bad, []byte("{\"prompt\":\"x\"}\n{oops\n"), 0o644)
	if _, err := File(NewRand(1), FileConfig{Path: bad}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: err = %v, want one naming line 2", err)
	}
}

// TestArrivalsPoisson checks the seeded schedule statistically: the mean gap
// is 1/rate within 3σ, and the gaps follow the exponential distribution
// (Kolmogorov–Smirnov at the 1% level); other burstiness values keep the
// mean and set the gaps' squared coefficient of variation to 1/burstiness.
func TestArrivalsPoisson(t *testing.T) {
	const n, rate = 20000, 40.0
	for _, burst := range []float64{1, 0.5, 4} {
		at, err := Arrivals(NewRand(42), n, rate, burst)
		if err != nil {
			t.Fatal(err)
		}
		if at[0] != 0 {
			t.Errorf("first arrival at %v, want 0", at[0])
		}
		gaps := make([]float64, n-1)
		for i := range gaps {
			gaps[i] = (at[i+1] - at[i]).Seconds()
			if gaps[i] < 0 {
				t.Fatal("arrivals go back in time")
			}
		}
		mean, sq := 0.0, 0.0
		for _, g := range gaps {
			mean += g
		}
		mean /= float64(len(gaps))
		for _, g := range gaps {
			sq += (g - mean) * (g - mean)
		}
		cv2 := sq / float64(len(gaps)) / (mean * mean)
		sigma := 1 / rate / math.Sqrt(burst*float64(len(gaps)))
		if math.Abs(mean-1/rate) > 3*sigma {
			t.Errorf("burstiness %v: mean gap %v s, want %v ± %v", burst, mean, 1/rate, 3*sigma)
		}
		if math.Abs(cv2*burst-1) > 0.1 {
			t.Errorf("burstiness %v: gaps' CV² %v, want %v", burst, cv2, 1/burst)
		}
		if burst != 1 {
			continue
		}
		sort.Float64s(gaps)
		d := 0.0
		for i, g := range gaps {
			f := 1 - math.Exp(-rate*g)
			d = max(d, math.Abs(f-float64(i)/float64(len(gaps))), math.Abs(f-float64(i+1)/float64(len(gaps))))
		}
		if crit := 1.63 / math.Sqrt(float64(len(gaps))); d > crit {
			t.Errorf("KS distance %v from the exponential, over %v", d, crit)
		}
	}
	inf, _ := Arrivals(NewRand(1), 5, math.Inf(1), 1)
	for _, a := range inf {
		if a != 0 {
			t.Errorf("infinite rate: arrival at %v", a)
		}
	}
	if _, err := Arrivals(NewRand(1), 5, 0, 1); err == nil {
		t.Error("rate 0 accepted")
	}
	_ = time.Second
}

func TestTenantParsing(t *testing.T) {
	tn, err := ParseTenant("name=solo,key=sk-1,weight=2.5,share=1,max-concurrency=30,priority=fast", 0)
	if err != nil || tn != (Tenant{Name: "solo", APIKey: "sk-1", Weight: 2.5, Share: 1, MaxConcurrency: 30, Priority: "fast"}) {
		t.Errorf("ParseTenant = %+v, %v", tn, err)
	}
	tn, err = ParseTenant("key=sk-2", 2)
	if err != nil || tn.Name != "tenant3" || tn.Weight != 1 || tn.EntitledShare() != 1 {
		t.Errorf("defaults: %+v, %v", tn, err)
	}
	for _, bad := range []string{"name=x", "key=k,weight=0", "key=k,colour=red", "key=k,weight=x", "key"} {
		if _, err := ParseTenant(bad, 0); err == nil {
			t.Errorf("ParseTenant(%q) accepted", bad)
		}
	}
}

func TestAssignTenants(t *testing.T) {
	tenants := []Tenant{{Weight: 5}, {Weight: 1}, {Weight: 2}}
	got := AssignTenants(800, tenants)
	count := make([]int, 3)
	for i, k := range got {
		count[k]++
		// Every prefix is within one request of its weighted share.
		for j, tn := range tenants {
			if want := float64(i+1) * tn.Weight / 8; math.Abs(float64(count[j])-want) > 1 {
				t.Fatalf("after %d requests tenant %d has %d, want %.1f", i+1, j, count[j], want)
			}
		}
	}
	if count[0] != 500 || count[1] != 100 || count[2] != 200 {
		t.Errorf("counts %v, want 500/100/200", count)
	}
	if AssignTenants(3, nil) != nil {
		t.Error("no tenants should give nil")
	}
}

func TestTargetURL(t *testing.T) {
	tests := []struct{ base, ep, want string }{
		{"http://h:1", "/v1/completions", "http://h:1/v1/completions"},
		{"http://h:1/", "v1/chat/completions", "http://h:1/v1/chat/completions"},
		{"http://h:1/v1", "/v1/chat/completions", "http://h:1/v1/chat/completions"},
		{"http://h:1/v1/", "/completion", "http://h:1/v1/completion"},
	}
	for _, tc := range tests {
		got, err := Target{BaseURL: tc.base, Endpoint: tc.ep}.URL()
		if err != nil || got != tc.want {
			t.Errorf("URL(%s, %s) = %s, %v; want %s", tc.base, tc.ep, got, err, tc.want)
		}
	}
	if _, err := (Target{BaseURL: "localhost:8000", Endpoint: "/v1/completions"}).URL(); err == nil {
		t.Error("a base URL without scheme accepted")
	}
	if (Target{Endpoint: "/v1/chat/completions"}).API() != Chat || (Target{Endpoint: "/v1/completions"}).API() != Completions {
		t.Error("API inference")
	}
}
