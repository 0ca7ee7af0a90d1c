package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Models the way users have them: a Hugging Face folder (what `hf download
// ORG/NAME --local-dir DIR` writes), a Hugging Face id already in the local
// cache (what `hf download ORG/NAME` and transformers write), a path with a
// leading ~. sota never downloads.
//
// The model id rule (what a request's "model" field names): the first
// --served-model-name; else NAME of --model NAME=DIR; else the Hugging Face
// id (ORG/NAME) when the model came from the cache; else the folder's base
// name; the built-in model is stories260k.

// hfID is a Hugging Face repository id: ORG/NAME.
var hfID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// errUnsupportedFormat is wrapped by every "this is not a format sota reads" error.
var errUnsupportedFormat = errors.New("unsupported model format")

// expandHome replaces a leading ~ (alone or before a slash) with the home
// directory, as a shell would.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}

// hfHubCache is where the Hugging Face hub caches repositories, as
// huggingface_hub decides: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
func hfHubCache() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("HUGGINGFACE_HUB_CACHE"); d != "" { // the older name
		return expandHome(d)
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(expandHome(d), "hub")
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "huggingface", "hub")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join("~", ".cache", "huggingface", "hub")
	}
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

// hfSnapshot finds repository id's snapshot in the hub cache: the commit of
// refs/main, else the only snapshot there is. ok is false when the cache
// holds no copy of it.
func hfSnapshot(cache, id string) (dir string, ok bool, err error) {
	repo := filepath.Join(cache, "models--"+strings.ReplaceAll(id, "/", "--"))
	if _, err := os.Stat(repo); err != nil {
		return "", false, nil
	}
	if ref, err := os.ReadFile(filepath.Join(repo, "refs", "main")); err == nil {
		dir := filepath.Join(repo, "snapshots", strings.TrimSpace(string(ref)))
		if _, err := os.Stat(dir); err == nil {
			return dir, true, nil
		}
		return "", false, fmt.Errorf("%s: refs/main names snapshot %s, which is not there (an interrupted download? run `hf download %s` again)",
			repo, strings.TrimSpace(string(ref)), id)
	}
	snaps, _ := filepath.Glob(filepath.Join(repo, "snapshots", "*"))
	switch len(snaps) {
	case 0:
		return "", false, nil
	case 1:
		return snaps[0], true, nil
	}
	return "", false, fmt.Errorf("%s: %d snapshots and no refs/main: give the snapshot folder you mean", repo, len(snaps))
}

// resolveModel turns a model as the user gave it into the folder (or, for
// --random-weights, the config.json) to load and the name to serve it under
// ("" = the folder's base name). spec "" is the built-in model.
func resolveModel(spec string) (path, name string, err error) {
	if spec == "" {
		return "", "", nil
	}
	path = expandHome(spec)
	fi, statErr := os.Stat(path)
	if statErr == nil {
		if err := checkFormat(path, fi.IsDir()); err != nil {
			return "", "", err
		}
		return path, "", nil
	}
	if err := checkFormat(path, false); err != nil { // a .gguf that is not there is still a .gguf
		return "", "", err
	}
	if !hfID.MatchString(spec) {
		return path, "", nil // the loader says what is missing
	}
	cache := hfHubCache()
	dir, ok, err := hfSnapshot(cache, spec)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", fmt.Errorf("model %s: no such folder, and not in the Hugging Face cache (%s); sota does not download: "+
			"run `hf download %s` (then `sota serve %s`), or `hf download %s --local-dir DIR` and give DIR",
			spec, cache, spec, spec, spec)
	}
	if err := checkFormat(dir, true); err != nil {
		return "", "", err
	}
	return dir, spec, nil
}

// checkFormat refuses, with what to do instead, the checkpoint formats sota
// does not read: GGUF files and PyTorch pickles (pytorch_model.bin, *.pt,
// *.pth). A folder is refused only when it has no safetensors weights.
func checkFormat(path string, isDir bool) error {
	if !isDir {
		return fileFormat(path)
	}
	if has(path, "model.safetensors") || has(path, "model.safetensors.index.json") {
		return nil
	}
	for _, pattern := range []string{"*.gguf", "pytorch_model*.bin", "*.pt", "*.pth", "*.bin"} {
		if m, _ := filepath.Glob(filepath.Join(path, pattern)); len(m) > 0 {
			if err := fileFormat(m[0]); err != nil {
				return err
			}
		}
	}
	return nil // the loader says what is missing
}

func fileFormat(path string) error {
	base := filepath.Base(path)
	switch ext := strings.ToLower(filepath.Ext(base)); {
	case ext == ".gguf":
		return fmt.Errorf("%s: %w: GGUF (llama.cpp, Ollama) is not read yet; sota reads Hugging Face folders of "+
			"safetensors weights: get the original repository, e.g. `hf download Qwen/Qwen2.5-0.5B-Instruct --local-dir DIR`, and give DIR",
			path, errUnsupportedFormat)
	case ext == ".bin" || ext == ".pt" || ext == ".pth":
		return fmt.Errorf("%s: %w: PyTorch pickle weights (%s) are not read (unpickling runs code); sota reads safetensors: "+
			"download the repository's safetensors files (most have them: `hf download ORG/NAME --include '*.safetensors' '*.json'`) "+
			"or convert with transformers (`AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(OUT, safe_serialization=True)`)",
			path, errUnsupportedFormat, base)
	}
	return nil
}

func has(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// resolveTokenizer is resolveModel for --tokenizer: a folder, a ~ path or a
// Hugging Face id in the cache.
func resolveTokenizer(spec string) (string, error) {
	if spec == "" {
		return "", nil
	}
	path := expandHome(spec)
	if _, err := os.Stat(path); err == nil || !hfID.MatchString(spec) {
		return path, nil
	}
	cache := hfHubCache()
	dir, ok, err := hfSnapshot(cache, spec)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("tokenizer %s: no such folder, and not in the Hugging Face cache (%s): run `hf download %s`",
			spec, cache, spec)
	}
	return dir, nil
}

// positionalModel makes `sota serve DIR` mean `sota serve --model DIR`. The
// positional model replaces one that came from $SOTA_MODEL; given with
// --model too, it is an error.
func (c *serveCmd) positionalModel() error {
	if c.ModelArg == "" {
		return nil
	}
	fromEnv := len(c.Models) == 1 && c.Models[0] == expandHome(os.Getenv("SOTA_MODEL"))
	if len(c.Models) > 0 && !fromEnv {
		return fmt.Errorf("model %s given twice: as the argument and as --model %s (give one)", c.ModelArg, strings.Join(c.Models, " --model "))
	}
	c.Models = []string{expandHome(c.ModelArg)}
	return nil
}
