package openai

import (
	"testing"
)

func TestParseToolCalls(t *testing.T) {
	tests := []struct {
		name    string
		parser  ToolParser
		text    string
		content string
		calls   []toolCall
	}{
		{"hermes one call", ToolParserHermes,
			"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>",
			"", []toolCall{{"get_weather", `{"city":"Paris","unit":"c"}`}}},
		{"hermes content then two calls", ToolParserHermes,
			"Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": [1, 2]}}\n</tool_call>",
			"Let me check.", []toolCall{{"a", `{}`}, {"b", `{"x":[1,2]}`}}},
		{"hermes cut before the closing tag", ToolParserHermes,
			"<tool_call>\n{\"name\": \"a\", \"arguments\": {\"q\": \"x\"}}",
			"", []toolCall{{"a", `{"q":"x"}`}}},
		{"hermes broken JSON is content", ToolParserHermes,
			"<tool_call>\n{\"name\": \"a\", \"argu", "<tool_call>\n{\"name\": \"a\", \"argu", nil},
		{"hermes plain answer", ToolParserHermes, "It is sunny.", "It is sunny.", nil},
		{"llama3 parameters", ToolParserLlama3,
			"{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
			"", []toolCall{{"get_weather", `{"city":"Paris"}`}}},
		{"llama3 python tag and two calls", ToolParserLlama3,
			"<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"n\": 1}}",
			"", []toolCall{{"a", `{}`}, {"b", `{"n":1}`}}},
		{"llama3 prose", ToolParserLlama3, "The answer is {x}.", "The answer is {x}.", nil},
		{"llama3 JSON that is not a call", ToolParserLlama3, "{\"answer\": 4}", "{\"answer\": 4}", nil},
		{"mistral array", ToolParserMistral,
			"[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"k\": \"v\"}}, {\"name\": \"b\", \"arguments\": \"{\\\"z\\\": 1}\"}]",
			"", []toolCall{{"a", `{"k":"v"}`}, {"b", `{"z":1}`}}},
		{"mistral name ARGS form", ToolParserMistral,
			"[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}",
			"", []toolCall{{"get_weather", `{"city":"Paris"}`}}},
		{"mistral content first", ToolParserMistral,
			"Sure. [TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}]",
			"Sure.", []toolCall{{"a", `{}`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content, calls, ok := tc.parser.parse(tc.text)
			if ok != (tc.calls != nil) || content != tc.content || len(calls) != len(tc.calls) {
				t.Fatalf("parse = %q, %+v, %v; want %q, %+v", content, calls, ok, tc.content, tc.calls)
			}
			for i := range calls {
				if calls[i] != tc.calls[i] {
					t.Fatalf("call %d = %+v, want %+v", i, calls[i], tc.calls[i])
				}
			}
		})
	}
}

// A forced call's prefill plus what the model writes after it parses.
func TestPrefillParses(t *testing.T) {
	for _, p := range []ToolParser{ToolParserHermes, ToolParserLlama3, ToolParserMistral} {
		named := p.prefill("get_weather") + `{"city": "Oslo"}}`
		if p == ToolParserMistral {
			named += "]"
		}
		if _, calls, ok := p.parse(named); !ok || calls[0].Name != "get_weather" || calls[0].Arguments != `{"city":"Oslo"}` {
			t.Errorf("%s named prefill: %+v %v", p, calls, ok)
		}
		var rest string
		switch p {
		case ToolParserLlama3:
			rest = `f", "parameters": {}}`
		case ToolParserMistral:
			rest = `f", "arguments": {}}]`
		default:
			rest = `f", "arguments": {}}` + "\n</tool_call>"
		}
		if _, calls, ok := p.parse(p.prefill("") + rest); !ok || calls[0].Name != "f" {
			t.Errorf("%s required prefill: %+v %v", p, calls, ok)
		}
	}
}
