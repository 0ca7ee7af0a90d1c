package grammar

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// testVocab has every single byte plus some multi-byte tokens that cross
// JSON structure, and an EOS token (the last id).
func testVocab(t testing.TB) *Vocab {
	t.Helper()
	var toks [][]byte
	for b := range 256 {
		toks = append(toks, []byte{byte(b)})
	}
	for _, s := range []string{`{"`, `":`, `": "`, `",`, `"}`, `"},`, `}]`, `true`, `false`, `null`, `, "`, `name`,
		`12`, `3.`, `0,`, `1}`, `e+`, `\u`, `ab"`, `\"`, `[{`, `"]`, `  `, "\n  ", `é`, "\xc3", `"a"`, `-1`} {
		toks = append(toks, []byte(s))
	}
	toks = append(toks, nil) // EOS has no bytes
	v, err := NewVocabBytes(toks, []int32{int32(len(toks) - 1)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func compile(t testing.TB, v *Vocab, schema string, opt Options) *Grammar {
	t.Helper()
	g, err := CompileSchema([]byte(schema), v, opt)
	if err != nil {
		t.Fatalf("compile %s: %v", schema, err)
	}
	return g
}

// accepts reports whether text is a complete sentence of g.
func accepts(g *Grammar, text string) bool {
	m := g.NewMatcher()
	return m.AcceptBytes([]byte(text)) && m.CanEnd()
}

func TestSchemaAcceptance(t *testing.T) {
	v := testVocab(t)
	compact := Options{}
	cases := []struct {
		schema string
		good   []string
		bad    []string
	}{
		{`{"type":"integer"}`, []string{"0", "-12", "123456"}, []string{"01", "-", "1.5", `"1"`, ""}},
		{`{"type":"integer","minimum":-5,"maximum":130}`, []string{"-5", "0", "7", "99", "100", "130"}, []string{"-6", "131", "200", "1000", "-10"}},
		{`{"type":"integer","exclusiveMinimum":0}`, []string{"1", "42"}, []string{"0", "-1"}},
		{`{"type":"number"}`, []string{"0", "-1.5", "2e10", "1.25E-3"}, []string{"1.", ".5", "+1", "1e"}},
		{`{"type":"string"}`, []string{`""`, `"a b"`, `"\n\"é"`, `"\u00e9"`}, []string{`"`, `"a`, "\"\x01\"", `'a'`, "\"\xc3\""}},
		{`{"type":"string","minLength":2,"maxLength":3}`, []string{`"ab"`, `"abc"`, `"éé"`}, []string{`"a"`, `"abcd"`}},
		{`{"type":"string","pattern":"^[a-z]+-[0-9]{2}$"}`, []string{`"ab-12"`}, []string{`"ab-1"`, `"Ab-12"`, `"ab-123"`}},
		{`{"type":"string","pattern":"b"}`, []string{`"b"`, `"abc"`}, []string{`"ac"`}},
		{`{"type":"string","format":"date"}`, []string{`"2024-02-29"`}, []string{`"2024-13-01"`, `"24-01-01"`}},
		{`{"enum":["red","green",3,null]}`, []string{`"red"`, `"green"`, "3", "null"}, []string{`"blue"`, "4"}},
		{`{"type":["string","null"]}`, []string{`"x"`, "null"}, []string{"1"}},
		{`{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}`, []string{"[1]", "[1,2,3]"}, []string{"[]", "[1,2,3,4]", "[1,]"}},
		{`{"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}],"items":false}`, []string{`["a",true]`, `["a"]`, "[]"}, []string{`["a",true,1]`, `[true]`}},
		{`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["b"],"additionalProperties":false}`,
			[]string{`{"b":"x"}`, `{"a":1,"b":"x"}`}, []string{`{}`, `{"a":1}`, `{"b":"x","a":1}`, `{"b":"x","c":1}`, `{"a":1,,"b":"x"}`}},
		{`{"type":"object","properties":{"a":{"type":"integer"}}}`, []string{`{}`, `{"a":1}`, `{"a":1,"z":[1,{"q":null}]}`, `{"ab":"x"}`, `{"":1}`},
			[]string{`{"a":"x"}`, `{"z":1,"a":1}`}},
		{`{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}},"additionalProperties":false}`,
			[]string{`{}`, `{"a":1}`, `{"b":1}`, `{"c":1}`, `{"a":1,"c":2}`, `{"a":1,"b":2,"c":3}`}, []string{`{,"b":1}`, `{"a":1,}`, `{"c":1,"a":2}`}},
		{`{"$defs":{"node":{"type":"object","properties":{"next":{"$ref":"#/$defs/node"}},"additionalProperties":false}},"$ref":"#/$defs/node"}`,
			[]string{`{}`, `{"next":{}}`, `{"next":{"next":{}}}`}, []string{`{"next":1}`}},
		{`{"anyOf":[{"type":"object","properties":{"k":{"const":"a"},"x":{"type":"integer"}},"required":["k","x"],"additionalProperties":false},
		   {"type":"object","properties":{"k":{"const":"b"},"y":{"type":"string"}},"required":["k","y"],"additionalProperties":false}]}`,
			[]string{`{"k":"a","x":1}`, `{"k":"b","y":"s"}`}, []string{`{"k":"a","y":"s"}`}},
		{`{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"boolean"}},"required":["b"]}]}`,
			[]string{`{"a":1,"b":true}`}, []string{`{"a":1}`, `{"b":true}`}},
		{`true`, []string{`1`, `{"a":[]}`, `"s"`}, []string{`{`, `tru`}},
	}
	for _, tc := range cases {
		g := compile(t, v, tc.schema, compact)
		for _, s := range tc.good {
			if !accepts(g, s) {
				t.Errorf("%s: rejects %s", tc.schema, s)
			}
		}
		for _, s := range tc.bad {
			if accepts(g, s) {
				t.Errorf("%s: accepts %s", tc.schema, s)
			}
		}
	}
}

func TestWhitespace(t *testing.T) {
	v := testVocab(t)
	schema := `{"type":"object","properties":{"a":{"type":"array","items":{"type":"integer"}}}}`
	g := compile(t, v, schema, Options{Whitespace: 4})
	for _, s := range []string{`{ "a" : [ 1 , 2 ] }`, "{\n  \"a\": [1, 2]\n}", `{}`, `{ }`} {
		if !accepts(g, s) {
			t.Errorf("rejects %q", s)
		}
	}
	for _, s := range []string{` {}`, `{}` + " ", `{      "a":[]}`} {
		if accepts(g, s) {
			t.Errorf("accepts %q", s)
		}
	}
}

// TestMaskMatchesAccept checks Allowed against Accept token by token on
// random walks through several grammars: the mask is exact.
func TestMaskMatchesAccept(t *testing.T) {
	v := testVocab(t)
	schemas := []string{
		`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},"tags":{"type":"array","items":{"enum":["a","b"]}}},"required":["name"]}`,
		`{"type":"array","items":{"anyOf":[{"type":"number"},{"type":"string","maxLength":3},{"type":"null"}]}}`,
		`{"type":"object"}`,
		`{"type":"string","pattern":"^(ab|a\"c)*$"}`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	mask := make([]uint64, v.Words())
	for _, schema := range schemas {
		for _, ws := range []int{0, 3} {
			g := compile(t, v, schema, Options{Whitespace: ws})
			for walk := range 20 {
				m := g.NewMatcher()
				for step := 0; step < 40; step++ {
					m.Allowed(mask)
					var allowed []int32
					for id := range int32(v.Size()) {
						want := m.Clone().Accept(id)
						got := mask[id>>6]&(1<<(id&63)) != 0
						if got != want && !(v.isEOS(id) && got && m.Dead()) {
							t.Fatalf("%s ws=%d walk %d step %d: token %d %q: mask %v, Accept %v", schema, ws, walk, step, id, v.Bytes(id), got, want)
						}
						if got {
							allowed = append(allowed, id)
						}
					}
					if len(allowed) == 0 {
						t.Fatalf("%s: empty mask", schema)
					}
					tok := allowed[rng.IntN(len(allowed))]
					if v.isEOS(tok) {
						break
					}
					if !m.Accept(tok) {
						t.Fatalf("allowed token %q not accepted", v.Bytes(tok))
					}
				}
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	v := testVocab(t)
	for _, s := range []string{`{"not":{}}`, `{"$ref":"#"}`, `{"anyOf":[{"$ref":"#"},{"type":"null"}]}`, `{"$ref":"http://x/y"}`, `[`, `{"type":5}`} {
		if _, err := CompileSchema([]byte(s), v, Options{}); err == nil {
			t.Errorf("%s compiled", s)
		} else if !strings.Contains(err.Error(), "schema") && !strings.Contains(err.Error(), "recursive") {
			t.Logf("%s: %v", s, err)
		}
	}
}
