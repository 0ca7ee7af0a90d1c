package grammar

import (
	"encoding/json"
	"testing"
)

// FuzzCompileSchema: any bytes either fail to compile with an error or give
// a grammar whose random walks under the mask stay consistent (Allowed
// tokens are accepted) and whose finished outputs are JSON.
func FuzzCompileSchema(f *testing.F) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"type":"integer","minimum":-3,"maximum":12},"b":{"enum":["x",1,null]}},"required":["a"]}`,
		`{"type":"array","prefixItems":[{"type":"string","pattern":"^a+b?$"}],"items":{"type":"boolean"},"minItems":1,"maxItems":4}`,
		`{"anyOf":[{"$ref":"#/$defs/n"},{"type":"string","format":"date"}],"$defs":{"n":{"type":"number","minimum":0}}}`,
		`{"allOf":[{"properties":{"k":{"const":"v"}}},{"required":["k"]}],"additionalProperties":{"type":"null"}}`,
		`{"type":"string","minLength":1,"maxLength":3}`,
		`true`, `{"$ref":"#"}`, `{"items":{"$ref":"#"}}`,
	} {
		f.Add([]byte(s), uint64(1))
	}
	v := testVocab(f)
	f.Fuzz(func(t *testing.T, schema []byte, seed uint64) {
		g, err := CompileSchema(schema, v, Options{Whitespace: 2})
		if err != nil {
			return
		}
		w := newRandomWalk(v, seed)
		out, done := generate(t, g, w, 200, nil)
		if done && !json.Valid(out) {
			t.Fatalf("schema %s: output %q is not JSON", schema, out)
		}
	})
}
