package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/tokenizer"
)

// The corpus tests read MaskBench's schemas (../shared/schemas, see its
// PROVENANCE.md) at test time; they skip when it is absent.

var corpusGen = flag.Int("corpus-gen", 60, "schemas of the corpus to generate from under the mask (TestCorpusGenerate)")

type corpusFile struct {
	name   string
	schema json.RawMessage
	tests  []corpusTest
}

type corpusTest struct {
	Valid bool            `json:"valid"`
	Data  json.RawMessage `json:"data"`
}

func corpusDir(t testing.TB) string {
	dir := filepath.Join(testmodels.SharedDir(t), "..", "schemas", "jsonschemabench")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("schema corpus not found at %s: %v", dir, err)
	}
	return dir
}

func loadCorpus(t testing.TB) []corpusFile {
	dir := corpusDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusFile
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Schema json.RawMessage `json:"schema"`
			Tests  []corpusTest    `json:"tests"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out = append(out, corpusFile{name: e.Name(), schema: f.Schema, tests: f.Tests})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// subset is the corpus subset a file belongs to.
func subset(name string) string {
	if i := strings.Index(name, "---"); i >= 0 {
		return name[:i]
	}
	name = strings.TrimSuffix(name, ".json")
	if i := strings.LastIndex(name, "_"); i >= 0 {
		return name[:i]
	}
	return name
}

// orderedInstance writes a test instance with object keys in the order the
// grammar generates them (the schema's property order; JSON objects are
// unordered, the grammar's layout is not).
func orderedInstance(c *compiler, schema, data any) []byte {
	return appendJSON(nil, reorder(c, []any{schema}, data, 0))
}

func reorder(c *compiler, schemas []any, v any, depth int) any {
	if depth > 64 {
		return v
	}
	flat := flatSchemas(c, schemas, 0)
	switch t := v.(type) {
	case *object:
		var order []string
		sub := map[string][]any{}
		var extra []any
		for _, s := range flat {
			if ps, ok := s.m["properties"].(*object); ok {
				for _, k := range ps.keys {
					if _, seen := sub[k]; !seen {
						order = append(order, k)
					}
					sub[k] = append(sub[k], ps.m[k])
				}
			}
			if req, ok := s.m["required"].([]any); ok {
				var rs []string
				for _, r := range req {
					if k, ok := r.(string); ok {
						if _, seen := sub[k]; !seen {
							rs = append(rs, k)
						}
					}
				}
				sort.Strings(rs)
				for _, k := range rs {
					order = append(order, k)
					sub[k] = nil
				}
			}
			if a, ok := s.m["additionalProperties"]; ok {
				extra = append(extra, a)
			}
		}
		out := newObject()
		for _, k := range order {
			if x, ok := t.m[k]; ok {
				out.set(k, reorder(c, append(sub[k], extra...), x, depth+1))
			}
		}
		for _, k := range t.keys {
			if !out.has(k) {
				out.set(k, reorder(c, extra, t.m[k], depth+1))
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			var subs []any
			for _, s := range flat {
				if p, ok := s.m["prefixItems"].([]any); ok && i < len(p) {
					subs = append(subs, p[i])
				} else if it, ok := s.m["items"].([]any); ok && i < len(it) {
					subs = append(subs, it[i])
				} else if it, ok := s.m["items"]; ok {
					subs = append(subs, it)
				}
			}
			out[i] = reorder(c, subs, x, depth+1)
		}
		return out
	}
	return v
}

// flatSchemas resolves $ref and expands allOf/anyOf/oneOf into the list of
// schema objects that may describe a value.
func flatSchemas(c *compiler, schemas []any, depth int) []*object {
	var out []*object
	for _, s := range schemas {
		o, ok := s.(*object)
		if !ok || depth > 16 {
			continue
		}
		out = append(out, o)
		if r, ok := o.m["$ref"].(string); ok {
			if t, err := c.resolve(r); err == nil {
				out = append(out, flatSchemas(c, []any{t}, depth+1)...)
			}
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			if list, ok := o.m[k].([]any); ok {
				out = append(out, flatSchemas(c, list, depth+1)...)
			}
		}
	}
	return out
}

type corpusStats struct {
	files, exact, relaxed, unsupported, failed int
	valid, validOK, invalid, invalidRejected   int
	wrongExact, wrongRelaxed                   int
	errs                                       map[string]int
	falseRejects, wrongAccepts                 []string
}

// TestCorpus compiles every schema of the corpus and runs each test
// instance through the automaton byte by byte: valid instances must be
// accepted, invalid ones rejected unless the grammar lists a relaxed
// keyword.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus: not in -short")
	}
	files := loadCorpus(t)
	v := testVocab(t)
	st := corpusStats{errs: map[string]int{}}
	perSubset := map[string]*[3]int{} // compiled, total, exact
	for _, f := range files {
		st.files++
		sub := subset(f.name)
		if perSubset[sub] == nil {
			perSubset[sub] = &[3]int{}
		}
		perSubset[sub][1]++
		g, err := CompileSchema(f.schema, v, Options{})
		if err != nil {
			switch {
			case errors.Is(err, ErrUnsupported):
				st.unsupported++
			default:
				st.failed++
			}
			msg := err.Error()
			if i := strings.Index(msg, ": "); i >= 0 && errors.Is(err, ErrUnsupported) {
				msg = msg[i+2:]
				if j := strings.IndexAny(msg, "(:"); j > 0 {
					msg = msg[:j]
				}
			}
			st.errs[strings.TrimSpace(msg)]++
			continue
		}
		perSubset[sub][0]++
		if len(g.Relaxed) == 0 {
			st.exact++
			perSubset[sub][2]++
		} else {
			st.relaxed++
		}
		doc, _ := parseJSON(f.schema)
		c := &compiler{root: doc, rules: map[*object]int32{}}
		for i, tc := range f.tests {
			data, err := parseJSON(tc.Data)
			if err != nil {
				continue
			}
			text := orderedInstance(c, doc, data)
			ok := accepts(g, string(text))
			switch {
			case tc.Valid:
				st.valid++
				if ok {
					st.validOK++
				} else if len(st.falseRejects) < 40 {
					st.falseRejects = append(st.falseRejects, fmt.Sprintf("%s #%d: %.200s", f.name, i, text))
				}
			default:
				st.invalid++
				switch {
				case !ok:
					st.invalidRejected++
				case len(g.Relaxed) == 0:
					st.wrongExact++
					st.wrongAccepts = append(st.wrongAccepts, fmt.Sprintf("%s #%d: %.200s", f.name, i, text))
				default:
					st.wrongRelaxed++
				}
			}
		}
	}
	t.Logf("schemas %d: compiled %d (exact %d, relaxed %d), unsupported %d, other errors %d",
		st.files, st.exact+st.relaxed, st.exact, st.relaxed, st.unsupported, st.failed)
	t.Logf("valid instances accepted %d/%d; invalid rejected %d/%d; invalid accepted by exact grammars %d, by relaxed ones %d",
		st.validOK, st.valid, st.invalidRejected, st.invalid, st.wrongExact, st.wrongRelaxed)
	var subs []string
	for k := range perSubset {
		subs = append(subs, k)
	}
	sort.Strings(subs)
	for _, k := range subs {
		p := perSubset[k]
		t.Logf("  %-22s compiled %4d/%4d (exact %4d)", k, p[0], p[1], p[2])
	}
	type kv struct {
		k string
		n int
	}
	var errs []kv
	for k, n := range st.errs {
		errs = append(errs, kv{k, n})
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].n > errs[j].n })
	for i, e := range errs {
		if i < 15 {
			t.Logf("  error %4d× %.120s", e.n, e.k)
		}
	}
	for _, s := range st.falseRejects[:min(10, len(st.falseRejects))] {
		t.Logf("  rejected valid: %s", s)
	}
	for _, s := range st.wrongAccepts {
		t.Errorf("exact grammar accepted an invalid instance: %s", s)
	}
	if st.exact+st.relaxed < st.files*3/4 {
		t.Errorf("only %d of %d schemas compile", st.exact+st.relaxed, st.files)
	}
	if st.validOK < st.valid*9/10 {
		t.Errorf("only %d of %d valid instances accepted", st.validOK, st.valid)
	}
}

// llamaVocab is the Llama-3.1 128K vocabulary, once per test binary.
var llamaVocab = sync.OnceValues(func() (*Vocab, error) {
	dir := os.Getenv("SOTA_SHARED_MODELS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "models")
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "llama3.1-tokenizer"))
	if err != nil {
		return nil, err
	}
	return NewVocab(tok)
})

func needLlama(t testing.TB) *Vocab {
	testmodels.Shared(t, "llama3.1-tokenizer", "tokenizer.json")
	v, err := llamaVocab()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pyValidate checks each (schema, instance) pair with Python's jsonschema
// (formats checked) and returns the failures; ok is false when Python or
// the package is missing.
func pyValidate(t *testing.T, pairs [][2][]byte) (failures []string, ok bool) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, false
	}
	tmp := filepath.Join(t.TempDir(), "pairs.jsonl")
	var b strings.Builder
	for _, p := range pairs {
		var s, inst bytes.Buffer
		if json.Compact(&s, p[0]) != nil || json.Compact(&inst, p[1]) != nil {
			t.Fatalf("not JSON: %q", p[1])
		}
		fmt.Fprintf(&b, "{\"schema\":%s,\"instance\":%s}\n", s.Bytes(), inst.Bytes())
	}
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit(3)
for i, line in enumerate(open(sys.argv[1])):
    d = json.loads(line)
    try:
        cls = jsonschema.validators.validator_for(d["schema"], default=jsonschema.Draft202012Validator)
        cls(d["schema"], format_checker=cls.FORMAT_CHECKER).validate(d["instance"])
    except jsonschema.ValidationError as e:
        print(i, json.dumps(e.message[:200]))
    except Exception as e:
        print(i, json.dumps("error: " + str(e)[:200]))
`
	cmd := exec.Command(py, "-c", script, tmp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		return nil, false
	}
	if err != nil {
		t.Fatalf("python: %v: %s", err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			failures = append(failures, line)
		}
	}
	return failures, true
}
