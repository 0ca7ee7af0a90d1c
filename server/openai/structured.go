package openai

import (
	"bytes"
	"container/list"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sotasystems/sota/grammar"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// Structured outputs: response_format (json_object, json_schema), vLLM's
// guided_json / structured_outputs.json, and tool calls forced by
// tool_choice ("required" or a named function), each compiled to a
// grammar whose matcher masks every sampled token of every sequence.

// responseFormat is OpenAI's response_format.
type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"json_schema"`
}

// checkResponseFormat validates response_format's shape (renderChat calls
// it before rendering, so a bad format fails fast).
func checkResponseFormat(raw json.RawMessage) *Error {
	_, e := parseResponseFormat(raw)
	return e
}

func parseResponseFormat(raw json.RawMessage) (*responseFormat, *Error) {
	if isNull(raw) {
		return nil, nil
	}
	var rf responseFormat
	if err := json.Unmarshal(raw, &rf); err != nil {
		return nil, invalid("response_format", "response_format must be an object {type: text | json_object | json_schema}")
	}
	switch rf.Type {
	case "text":
		return nil, nil
	case "json_object":
		return &rf, nil
	case "json_schema":
		if rf.JSONSchema == nil || isNull(rf.JSONSchema.Schema) {
			return nil, invalid("response_format", "response_format json_schema needs json_schema.schema")
		}
		return &rf, nil
	}
	return nil, invalid("response_format", "response_format type %q: must be text, json_object or json_schema", rf.Type)
}

// constraintSpec is what a request asks its output to match.
type constraintSpec struct {
	param  string // the request field, for errors
	kind   string // "json", "schema", "parts"
	schema json.RawMessage
	strict bool
	parts  [][]grammar.Part
}

// key identifies the compiled grammar in the cache.
func (c *constraintSpec) key(tok *tokenizer.Tokenizer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%p|%s|%v|", tok, c.kind, c.strict)
	var buf bytes.Buffer
	if json.Compact(&buf, c.schema) == nil {
		b.Write(buf.Bytes())
	} else {
		b.Write(c.schema)
	}
	for _, alt := range c.parts {
		b.WriteString("|alt")
		for _, p := range alt {
			fmt.Fprintf(&b, "|%v:%q:%s", p.IsJSON, p.Literal, p.Schema)
		}
	}
	return b.String()
}

// structured returns the constraint of a request, or nil when its output is
// free text. rf is the request's response_format; tools and cp the chat
// request's tools and rendered prompt (zero for completions).
func (s *Server) structured(m *Model, c *common, rf json.RawMessage, tools json.RawMessage, cp chatPrompt) (func() sample.Constraint, *Error) {
	spec, e := constraintOf(c, rf, tools, cp)
	if spec == nil || e != nil {
		return nil, e
	}
	g, err := compiledGrammar(m.Tokenizer, spec)
	if err != nil {
		if errors.Is(err, grammar.ErrUnsupported) || errors.Is(err, grammar.ErrInvalidSchema) || errors.Is(err, grammar.ErrTooLarge) {
			return nil, invalid(spec.param, "%s: %v", spec.param, err)
		}
		return nil, apiError(500, "internal_error", spec.param, "", fmt.Sprintf("structured output: %v", err))
	}
	return func() sample.Constraint { return g.NewMatcher() }, nil
}

// constraintOf reads the fields that ask for structured output; at most
// one may be set.
func constraintOf(c *common, rf json.RawMessage, tools json.RawMessage, cp chatPrompt) (*constraintSpec, *Error) {
	var specs []*constraintSpec
	f, e := parseResponseFormat(rf)
	if e != nil {
		return nil, e
	}
	if f != nil {
		if f.Type == "json_object" {
			specs = append(specs, &constraintSpec{param: "response_format", kind: "json"})
		} else {
			strict := f.JSONSchema.Strict != nil && *f.JSONSchema.Strict
			specs = append(specs, &constraintSpec{param: "response_format", kind: "schema", schema: f.JSONSchema.Schema, strict: strict})
		}
	}
	if !isNull(c.GuidedJSON) {
		specs = append(specs, &constraintSpec{param: "guided_json", kind: "schema", schema: schemaJSON(c.GuidedJSON)})
	}
	if c.StructuredOutputs != nil && !isNull(c.StructuredOutputs.JSON) {
		specs = append(specs, &constraintSpec{param: "structured_outputs", kind: "schema", schema: schemaJSON(c.StructuredOutputs.JSON)})
	}
	if cp.prefill != "" && len(specs) == 0 {
		spec, e := toolCallSpec(tools, cp)
		if e != nil {
			return nil, e
		}
		specs = append(specs, spec)
	}
	switch len(specs) {
	case 0:
		return nil, nil
	case 1:
		return specs[0], nil
	}
	return nil, invalid(specs[1].param, "%s and %s both constrain the output: give one", specs[0].param, specs[1].param)
}

// schemaJSON accepts a schema given as an object or as a JSON string
// holding one (vLLM accepts both for guided_json).
func schemaJSON(raw json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return json.RawMessage(s)
	}
	return raw
}

// toolCallSuffix closes a forced call in each parser's format.
var toolCallSuffix = map[ToolParser]string{
	ToolParserHermes:  "}\n</tool_call>",
	ToolParserMistral: "}]",
	ToolParserLlama3:  "}",
}

// toolCallSpec constrains the output after a forced call's prefill: the
// arguments of the named function, or (tool_choice "required") the name of
// one of the tools and its arguments, then the end of the call.
func toolCallSpec(raw json.RawMessage, cp chatPrompt) (*constraintSpec, *Error) {
	suffix, ok := toolCallSuffix[cp.parser]
	if !ok {
		return nil, nil
	}
	var tools []struct {
		Function struct {
			Name       string          `json:"name"`
			Parameters json.RawMessage `json:"parameters"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &tools); err != nil {
		return nil, invalid("tools", "tools must be an array of {type: function, function: {name, parameters}}")
	}
	params := func(p json.RawMessage) []byte {
		if isNull(p) {
			return []byte(`{"type":"object"}`)
		}
		return p
	}
	spec := &constraintSpec{param: "tools", kind: "parts"}
	base := cp.parser.prefill("")
	for _, t := range tools {
		full := cp.parser.prefill(t.Function.Name)
		args := grammar.Part{IsJSON: true, Schema: params(t.Function.Parameters)}
		switch {
		case cp.prefill == full: // named: the prompt already holds the name
			spec.parts = [][]grammar.Part{{args, {Literal: suffix}}}
			return spec, nil
		case cp.prefill == base && strings.HasPrefix(full, strings.TrimSuffix(base, `"`)):
			name := full[len(base):] // the name's JSON text without its opening quote, then the arguments key
			spec.parts = append(spec.parts, []grammar.Part{{Literal: name}, args, {Literal: suffix}})
		}
	}
	if len(spec.parts) == 0 {
		return nil, nil
	}
	return spec, nil
}

// Caches: one Vocab per tokenizer (built on first use), and the most
// recently used compiled grammars (their node masks fill as they serve, so
// a schema used again is fast from its first token).
var (
	vocabMu sync.Mutex
	vocabs  = map[*tokenizer.Tokenizer]*vocabEntry{}

	grammarMu    sync.Mutex
	grammarLRU   = list.New()
	grammarIndex = map[string]*list.Element{}
)

const maxCachedGrammars = 128

type vocabEntry struct {
	once sync.Once
	v    *grammar.Vocab
	err  error
}

type grammarEntry struct {
	key  string
	once sync.Once
	g    *grammar.Grammar
	err  error
}

func vocabFor(tok *tokenizer.Tokenizer) (*grammar.Vocab, error) {
	vocabMu.Lock()
	e, ok := vocabs[tok]
	if !ok {
		e = &vocabEntry{}
		vocabs[tok] = e
	}
	vocabMu.Unlock()
	e.once.Do(func() { e.v, e.err = grammar.NewVocab(tok) })
	return e.v, e.err
}

func compiledGrammar(tok *tokenizer.Tokenizer, spec *constraintSpec) (*grammar.Grammar, error) {
	v, err := vocabFor(tok)
	if err != nil {
		return nil, fmt.Errorf("vocabulary: %w", err)
	}
	key := spec.key(tok)
	grammarMu.Lock()
	var ent *grammarEntry
	if el, ok := grammarIndex[key]; ok {
		grammarLRU.MoveToFront(el)
		ent = el.Value.(*grammarEntry)
	} else {
		ent = &grammarEntry{key: key}
		grammarIndex[key] = grammarLRU.PushFront(ent)
		for grammarLRU.Len() > maxCachedGrammars {
			old := grammarLRU.Back()
			grammarLRU.Remove(old)
			delete(grammarIndex, old.Value.(*grammarEntry).key)
		}
	}
	grammarMu.Unlock()
	ent.once.Do(func() {
		opt := grammar.Options{Whitespace: -1, NoExtraProperties: spec.strict}
		switch spec.kind {
		case "json":
			ent.g, ent.err = grammar.CompileJSON(v, opt)
		case "schema":
			ent.g, ent.err = grammar.CompileSchema(spec.schema, v, opt)
		case "parts":
			ent.g, ent.err = grammar.CompileParts(spec.parts, v, opt)
		}
	})
	return ent.g, ent.err
}
