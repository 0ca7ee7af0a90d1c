package openai

import (
	"encoding/json"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// personSchema bounds every string and number so that the fake backend's
// random walk under the mask finishes well within max_tokens.
var personSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"name": map[string]any{"type": "string", "maxLength": 6},
		"age":  map[string]any{"type": "integer", "minimum": 0, "maximum": 120},
		"pets": map[string]any{"type": "array", "maxItems": 3, "items": map[string]any{"enum": []any{"cat", "dog"}}},
	},
	"required":             []any{"name", "age", "pets"},
	"additionalProperties": false,
}

type person struct {
	Name string   `json:"name"`
	Age  *int     `json:"age"`
	Pets []string `json:"pets"`
}

func checkPerson(t *testing.T, text string) {
	t.Helper()
	var p person
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("output %q: %v", text, err)
	}
	if len([]rune(p.Name)) > 6 || p.Age == nil || *p.Age < 0 || *p.Age > 120 || len(p.Pets) > 3 {
		t.Fatalf("output %q breaks the schema", text)
	}
	for _, x := range p.Pets {
		if x != "cat" && x != "dog" {
			t.Fatalf("output %q: pet %q", text, x)
		}
	}
}

func TestResponseFormatJSONSchema(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	for _, stream := range []bool{false, true} {
		p := userChat("Describe a person")
		p.N = sdk.Int(4)
		p.MaxTokens = sdk.Int(300)
		p.ResponseFormat = sdk.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: personSchema, Strict: sdk.Bool(true)}}}
		texts := make([]string, 4)
		finish := make([]string, 4)
		if stream {
			s := ts.client.Chat.Completions.NewStreaming(t.Context(), p)
			for s.Next() {
				for _, c := range s.Current().Choices {
					texts[c.Index] += c.Delta.Content
					if c.FinishReason != "" {
						finish[c.Index] = c.FinishReason
					}
				}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
		} else {
			resp, err := ts.client.Chat.Completions.New(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range resp.Choices {
				texts[c.Index], finish[c.Index] = c.Message.Content, c.FinishReason
			}
		}
		for i, text := range texts {
			if finish[i] != "stop" {
				t.Fatalf("stream %v choice %d: finish %q, text %q", stream, i, finish[i], text)
			}
			checkPerson(t, text)
		}
	}
}

func TestResponseFormatJSONObject(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	p := userChat("Any object")
	p.N = sdk.Int(6)
	p.MaxTokens = sdk.Int(400)
	p.ResponseFormat = sdk.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
	resp, err := ts.client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	stopped := 0
	for _, c := range resp.Choices {
		if !strings.HasPrefix(c.Message.Content, "{") {
			t.Fatalf("choice %d: %q is not an object", c.Index, c.Message.Content)
		}
		if c.FinishReason != "stop" {
			continue // cut by max_tokens: a prefix of an object
		}
		stopped++
		var v map[string]any
		if err := json.Unmarshal([]byte(c.Message.Content), &v); err != nil {
			t.Fatalf("choice %d: %q: %v", c.Index, c.Message.Content, err)
		}
	}
	if stopped == 0 {
		t.Fatal("no choice finished")
	}
}

func TestGuidedJSONCompletions(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	schema, _ := json.Marshal(personSchema)
	q, _ := json.Marshal(string(schema))
	for _, field := range []string{`"guided_json": ` + string(schema), `"guided_json": ` + string(q),
		`"structured_outputs": {"json": ` + string(schema) + `}`, `"response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": ` + string(schema) + `}}`} {
		code, body, _ := ts.post("/v1/completions", `{"model": "stories", "prompt": "Once", "max_tokens": 300, "n": 2, `+field+`}`)
		if code != 200 {
			t.Fatalf("%s: %d %s", field, code, body)
		}
		var resp struct {
			Choices []struct {
				Text         string `json:"text"`
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil || len(resp.Choices) != 2 {
			t.Fatalf("%s: %s", field, body)
		}
		for _, c := range resp.Choices {
			if c.FinishReason != "stop" {
				t.Fatalf("%s: finish %q", field, c.FinishReason)
			}
			checkPerson(t, c.Text)
		}
	}
}

func TestForcedToolCallArguments(t *testing.T) {
	ts := newTestServer(t, ToolParserHermes)
	tool := sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "set_person", Parameters: shared.FunctionParameters(personSchema)})
	other := sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "ping", Parameters: shared.FunctionParameters{
		"type": "object", "properties": map[string]any{"n": map[string]any{"type": "integer", "minimum": 1, "maximum": 9}},
		"required": []any{"n"}, "additionalProperties": false}})
	for _, named := range []bool{true, false} {
		p := userChat("Call it")
		p.MaxTokens = sdk.Int(300)
		p.N = sdk.Int(3)
		p.Tools = []sdk.ChatCompletionToolUnionParam{tool, other}
		if named {
			p.ToolChoice = sdk.ChatCompletionToolChoiceOptionUnionParam{OfFunctionToolChoice: &sdk.ChatCompletionNamedToolChoiceParam{
				Function: sdk.ChatCompletionNamedToolChoiceFunctionParam{Name: "set_person"}}}
		} else {
			p.ToolChoice = sdk.ChatCompletionToolChoiceOptionUnionParam{OfAuto: sdk.String("required")}
		}
		resp, err := ts.client.Chat.Completions.New(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Choices {
			if c.FinishReason != "tool_calls" || len(c.Message.ToolCalls) != 1 {
				t.Fatalf("named %v: finish %q, calls %+v, content %q", named, c.FinishReason, c.Message.ToolCalls, c.Message.Content)
			}
			call := c.Message.ToolCalls[0].Function
			switch call.Name {
			case "set_person":
				checkPerson(t, call.Arguments)
			case "ping":
				var a struct{ N int }
				if named || json.Unmarshal([]byte(call.Arguments), &a) != nil || a.N < 1 || a.N > 9 {
					t.Fatalf("named %v: call %+v", named, call)
				}
			default:
				t.Fatalf("call %+v", call)
			}
		}
	}
}

func TestStructuredOutputErrors(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	cases := []struct{ body, param, msg string }{
		{`"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"not": {}}}}`, "response_format", "unsupported"},
		{`"response_format": {"type": "xml"}`, "response_format", "xml"},
		{`"response_format": {"type": "json_object"}, "guided_json": {"type": "object"}`, "guided_json", "both"},
		{`"guided_json": {"$ref": "#"}`, "guided_json", "accepts nothing"},
		{`"guided_json": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}`, "guided_json", "left-recursive"},
		{`"guided_json": {"type": "string", "pattern": "\\bword"}`, "guided_json", "pattern"},
	}
	for _, tc := range cases {
		code, body, _ := ts.post("/v1/chat/completions", `{"model": "stories", "messages": [{"role": "user", "content": "x"}], `+tc.body+`}`)
		if code != 400 || !strings.Contains(body, `"param":"`+tc.param+`"`) || !strings.Contains(body, tc.msg) {
			t.Errorf("%s: %d %s", tc.body, code, body)
		}
	}
}
