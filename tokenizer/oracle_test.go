package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// oraclePython returns the interpreter of the project's virtual environment
// (made by `make pyenv`), or $SOTA_PYTHON. Without one the differential
// tests skip, except under CI (CI set), where they fail: CI must run them.
func oraclePython(t testing.TB) string {
	t.Helper()
	py := os.Getenv("SOTA_PYTHON")
	if py == "" {
		py = filepath.Join(testmodels.RepoRoot(t), ".venv", "bin", "python")
	}
	if _, err := os.Stat(py); err != nil {
		msg := "differential test needs the Python reference: run `make pyenv` (creates .venv with tokenizers, " +
			"sentencepiece and jinja2) or set SOTA_PYTHON: " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// runOracle sends each request to testdata/oracle.py (one JSON line each)
// and returns its answers in order.
func runOracle(t testing.TB, reqs []any, args ...string) []json.RawMessage {
	t.Helper()
	py := oraclePython(t)
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.SetEscapeHTML(false)
	for _, r := range reqs {
		if err := enc.Encode(r); err != nil {
			t.Fatalf("oracle request: %v", err)
		}
	}
	cmd := exec.Command(py, append([]string{filepath.Join("testdata", "oracle.py")}, args...)...)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle %v: %v\n%s", args, err, stderr.Bytes())
	}
	var answers []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		answers = append(answers, json.RawMessage(bytes.Clone(sc.Bytes())))
	}
	if len(answers) != len(reqs) {
		t.Fatalf("oracle %v: %d answers for %d requests\n%s", args, len(answers), len(reqs), stderr.Bytes())
	}
	return answers
}
