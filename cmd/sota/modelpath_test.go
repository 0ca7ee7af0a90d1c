package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// demoDir is the built-in model's folder in the source tree: a real,
// tiny Hugging Face checkpoint that needs no shared models.
const demoDir = "../../internal/demo/stories260k"

// fakeHFCache lays out repository id in a Hugging Face hub cache under root
// as huggingface_hub does: blobs/<sha256> holding the files,
// snapshots/<commit>/<name> symlinks into ../../blobs, refs/main naming the
// commit. It returns the snapshot folder.
func fakeHFCache(t *testing.T, root, id string) string {
	t.Helper()
	repo := filepath.Join(root, "models--"+strings.ReplaceAll(id, "/", "--"))
	commit := "0123456789abcdef0123456789abcdef01234567"
	snap := filepath.Join(repo, "snapshots", commit)
	for _, d := range []string{filepath.Join(repo, "blobs"), snap, filepath.Join(repo, "refs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(demoDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(demoDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		blob := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(repo, "blobs", blob), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snap, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	return snap
}

// hfEnv points the hub cache variables (and HOME) at the test's folders.
func hfEnv(t *testing.T, home, hubCache, hfHome string) {
	t.Setenv("HOME", home)
	t.Setenv("HF_HUB_CACHE", hubCache)
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	t.Setenv("HF_HOME", hfHome)
	t.Setenv("XDG_CACHE_HOME", "")
}

func TestResolveModelHFCache(t *testing.T) {
	tmp := t.TempDir()
	tests := []struct {
		name                   string
		home, hubCache, hfHome string // relative to tmp; "" = unset
		cacheAt                string // where the fake cache is laid out
	}{
		{"HF_HUB_CACHE", "home", "hub", "hfhome", "hub"},
		{"HF_HOME/hub", "home", "", "hfhome", "hfhome/hub"},
		{"~/.cache/huggingface/hub", "home", "", "", "home/.cache/huggingface/hub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(tmp, tt.name)
			abs := func(p string) string {
				if p == "" {
					return ""
				}
				return filepath.Join(root, p)
			}
			snap := fakeHFCache(t, abs(tt.cacheAt), "sota-test/Stories-260K")
			hfEnv(t, abs(tt.home), abs(tt.hubCache), abs(tt.hfHome))
			dir, name, err := resolveModel("sota-test/Stories-260K")
			if err != nil || dir != snap || name != "sota-test/Stories-260K" {
				t.Fatalf("resolveModel = %q, %q, %v; want %q, the id", dir, name, err, snap)
			}
		})
	}
}

// A model in the hub cache is served under its id, not the snapshot's hash,
// whether given positionally (as vllm serve takes it) or with --model; the
// weights are read through the cache's symlinks.
func TestServeHFCacheModel(t *testing.T) {
	tmp := t.TempDir()
	fakeHFCache(t, filepath.Join(tmp, "hub"), "sota-test/Stories-260K")
	hfEnv(t, tmp, filepath.Join(tmp, "hub"), "")
	for _, args := range [][]string{{"sota-test/Stories-260K"}, {"--model", "sota-test/Stories-260K"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			url, stop := startServe(t, args...)
			defer stop()
			code, out := postJSON(t, url+"/v1/completions", `{"model": "sota-test/Stories-260K", "prompt": "Once upon a time", "max_tokens": 5}`)
			if code != 200 {
				t.Fatalf("completions: %d %v", code, out)
			}
			var list struct {
				Data []struct{ ID string } `json:"data"`
			}
			resp, err := http.Get(url + "/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if len(list.Data) != 1 || list.Data[0].ID != "sota-test/Stories-260K" {
				t.Fatalf("models %+v, want the Hugging Face id", list.Data)
			}
		})
	}
}

func TestExpandHome(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	for _, tt := range []struct{ in, want string }{
		{"~", "/home/u"}, {"~/models/x", "/home/u/models/x"}, {"~other/x", "~other/x"},
		{"/abs/~/x", "/abs/~/x"}, {"rel/x", "rel/x"}, {"", ""},
	} {
		if got := expandHome(tt.in); got != tt.want {
			t.Errorf("expandHome(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A leading ~ in path flags and their SOTA_* variables is the home folder
// (the shell does not expand --model=~/x, nor a quoted or env value).
func TestTildePathFlags(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.CopyFS(filepath.Join(home, "models", "stories"), os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(home, "t.jinja")
	if err := os.WriteFile(tmpl, []byte("{% for m in messages %}[{{ m['content'] }}]{% endfor %}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  string // SOTA_MODEL
		args []string
		want string
	}{
		{"--model=~/", "", []string{"generate", "-q", "--model=~/models/stories", "--max-tokens", "3"}, ""},
		{"--tokenizer ~/", "", []string{"generate", "-q", "--model", demoDir, "--tokenizer", "~/models/stories", "--max-tokens", "3"}, ""},
		{"SOTA_MODEL=~/", "~/models/stories", []string{"generate", "-q", "--max-tokens", "3"}, ""},
		{"tokenize --model ~/", "", []string{"tokenize", "--model", "~/models/stories", "Hello world"}, "[1,346,306,414,263,304,341]\n"},
		{"--chat-template ~/", "", []string{"tokenize", "--chat", "--chat-template", "~/t.jinja", `[{"role": "user", "content": "x"}]`}, "\"[x]\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOTA_MODEL", tt.env)
			if tt.env == "" {
				os.Unsetenv("SOTA_MODEL")
			}
			code, out, errOut := sota(t, tt.args...)
			if code != 0 || (tt.want != "" && out != tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, tt.want)
			}
		})
	}
}

// Formats sota does not read fail with what to do instead.
func TestUnsupportedModelFormats(t *testing.T) {
	tmp := t.TempDir()
	hfEnv(t, tmp, filepath.Join(tmp, "hub"), "")
	mk := func(rel string) string {
		p := filepath.Join(tmp, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gguf := mk("gguf/qwen2.5-0.5b-instruct-q4_k_m.gguf")
	bin := mk("pickle/pytorch_model.bin")
	mk("pickle/config.json")
	pt := mk("model.pt")
	tests := []struct {
		name  string
		model string
		want  []string
	}{
		{"gguf file", gguf, []string{"GGUF", "hf download", "--local-dir"}},
		{"gguf folder", filepath.Dir(gguf), []string{"GGUF", "safetensors"}},
		{"missing gguf file", filepath.Join(tmp, "nope.gguf"), []string{"GGUF"}},
		{"pytorch_model.bin folder", filepath.Dir(bin), []string{"pytorch_model.bin", "pickle", "safetensors", "save_pretrained"}},
		{".pt file", pt, []string{"model.pt", "pickle", "safetensors"}},
		{"id not in the cache", "Qwen/Qwen2.5-0.5B-Instruct", []string{"not in the Hugging Face cache", filepath.Join(tmp, "hub"),
			"does not download", "hf download Qwen/Qwen2.5-0.5B-Instruct"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range [][]string{{"serve", "--port", "0", tt.model}, {"generate", "-q", "--model", tt.model}} {
				code, _, errOut := sota(t, cmd...)
				for _, w := range tt.want {
					if code != 1 || !strings.Contains(errOut, w) {
						t.Fatalf("%s: exit %d, stderr %q; want exit 1 mentioning %q", cmd[0], code, errOut, w)
					}
				}
			}
		})
	}
}

func TestServePositionalModel(t *testing.T) {
	t.Setenv("SOTA_MODEL", "")
	os.Unsetenv("SOTA_MODEL")
	code, _, errOut := sota(t, "serve", "--port", "0", "x", "--model", "y")
	if code != 1 || !strings.Contains(errOut, "given twice") {
		t.Fatalf("positional and --model: exit %d, stderr %q", code, errOut)
	}
	// The positional model replaces $SOTA_MODEL's.
	t.Setenv("SOTA_MODEL", "/nonexistent/from-env")
	url, stop := startServe(t, demoDir)
	defer stop()
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"stories260k"`) {
		t.Fatalf("models: %s", body)
	}
}

// The startup summary tells, at Info, what vLLM's does.
func TestServeStartupSummary(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logWatch{url: make(chan string, 1)}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--port", "0", "--num-kv-blocks", "65"}, io.Discard, logs) }()
	select {
	case <-logs.url:
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, logs.String())
	}
	cancel()
	<-done
	out := logs.String()
	for _, want := range []string{`level=INFO msg="model ready" model=stories260k source=built-in arch=LlamaForCausalLM params=260.0K weights_dtype=F32 device=cpu kernels=`,
		` float32 weights, float32 accumulation" weights_memory="0.00 GiB float32" `,
		"kv_blocks=64 block_size=16 kv_tokens=1024 ", `kv_cache="0.00 GiB f32"`, "max_model_len=512", `max_concurrency="2.00x at 512 tokens"`,
		"msg=serving url=http://127.0.0.1:", "version="} {
		if !strings.Contains(out, want) {
			t.Errorf("startup log lacks %q:\n%s", want, out)
		}
	}
}
