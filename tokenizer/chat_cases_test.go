package tokenizer

import "encoding/json"

// chatCase is one conversation for the chat template differential test.
type chatCase struct {
	name     string
	messages string // JSON array
	tools    string // JSON array or ""
}

const weatherTool = `{"type": "function", "function": {"name": "get_weather",
	"description": "Get the current weather — in °C or °F, for a city (東京 works too)",
	"parameters": {"type": "object", "properties": {
		"city": {"type": "string", "description": "City name, e.g. \"Paris\""},
		"unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": null},
		"days": {"type": "integer", "minimum": 1, "maximum": 7.5, "exclusive": false}},
	"required": ["city"]}}}`

const searchTool = `{"type": "function", "function": {"name": "search", "description": "Search the web",
	"parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "number"}},
	"required": ["query"]}, "return": {"type": "array", "items": {"type": "string"}}}}`

// chatCases covers plain turns, system prompts, content parts, tools, tool
// calls and results (single and parallel), reasoning, odd text and
// conversations some templates reject.
var chatCases = []chatCase{
	{"user", `[{"role": "user", "content": "Hello!"}]`, ""},
	{"system_user", `[{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi there"}]`, ""},
	{"multi_turn", `[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"},
		{"role": "assistant", "content": "4"}, {"role": "user", "content": "And times 3?"},
		{"role": "assistant", "content": "12."}, {"role": "user", "content": "Thanks"}]`, ""},
	{"ends_with_assistant", `[{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}]`, ""},
	{"content_parts", `[{"role": "system", "content": [{"type": "text", "text": "System part."}]},
		{"role": "user", "content": [{"type": "text", "text": "First part."}, {"type": "text", "text": "Second part."}]}]`, ""},
	{"odd_text", `[{"role": "user", "content": "  Quotes \"x\" 'y' \\ back\\slash\n\ttab <s> [INST] <|im_end|> {{ not jinja }} {% raw %} 東京 🙂 e\u0301  "},
		{"role": "assistant", "content": "\n\nLeading newlines and trailing spaces   "}, {"role": "user", "content": ""}]`, ""},
	{"tools", `[{"role": "user", "content": "What's the weather in Paris?"}]`, "[" + weatherTool + "," + searchTool + "]"},
	{"tools_system", `[{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Oslo?"}]`, "[" + weatherTool + "]"},
	{"tool_call_roundtrip", `[{"role": "user", "content": "Weather in Paris?"},
		{"role": "assistant", "content": null, "tool_calls": [{"id": "call12345", "type": "function",
			"function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius", "days": 2}}}]},
		{"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
		{"role": "assistant", "content": "It is 21.5 °C and clear."}, {"role": "user", "content": "Thanks!"}]`, "[" + weatherTool + "]"},
	{"tool_call_pending", `[{"role": "user", "content": "Weather in Rome?"},
		{"role": "assistant", "content": "", "tool_calls": [{"id": "abcdefghi", "type": "function",
			"function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
		{"role": "tool", "tool_call_id": "abcdefghi", "content": "sunny, 30"}]`, "[" + weatherTool + "]"},
	{"parallel_calls", `[{"role": "user", "content": "Weather in Paris and Berlin?"},
		{"role": "assistant", "tool_calls": [
			{"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
			{"id": "call00002", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Berlin", "unit": "celsius"}}}]},
		{"role": "tool", "tool_call_id": "call00001", "content": "18"},
		{"role": "tool", "tool_call_id": "call00002", "content": "15"}]`, "[" + weatherTool + "]"},
	{"string_arguments", `[{"role": "user", "content": "Search cats"},
		{"role": "assistant", "tool_calls": [{"id": "call99999", "type": "function",
			"function": {"name": "search", "arguments": "{\"query\": \"cats\"}"}}]},
		{"role": "tool", "tool_call_id": "call99999", "content": "[\"a\", \"b\"]"}]`, "[" + searchTool + "]"},
	{"reasoning", `[{"role": "user", "content": "Think first: 3*7?"},
		{"role": "assistant", "content": "21", "reasoning_content": "3 times 7 is 21."},
		{"role": "user", "content": "And 4*6?"}]`, ""},
	{"think_in_content", `[{"role": "user", "content": "Q1"},
		{"role": "assistant", "content": "<think>\nreasoning here\n</think>\n\nAnswer one"},
		{"role": "user", "content": "Q2"}, {"role": "assistant", "content": "<think>more</think>Answer two"}]`, ""},
	{"two_systems", `[{"role": "system", "content": "Rule one."}, {"role": "system", "content": "Rule two."},
		{"role": "user", "content": "Go"}]`, ""},
	{"consecutive_users", `[{"role": "user", "content": "Part A"}, {"role": "user", "content": "Part B"}]`, ""},
	{"assistant_first", `[{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}]`, ""},
	{"unicode_tool_args", `[{"role": "user", "content": "Météo à Zürich?"},
		{"role": "assistant", "tool_calls": [{"id": "call77777", "type": "function",
			"function": {"name": "get_weather", "arguments": {"city": "Zürich 東京 🙂", "note": "a\"b\\c\n", "n": [1, 2.5, true, null, {}], "nested": {"z": 1, "a": {"y": []}}}}}]},
		{"role": "tool", "tool_call_id": "call77777", "content": "ok"}]`, "[" + weatherTool + "]"},
	{"empty", `[]`, ""},
}

// mustJSON checks that every case is valid JSON (a typo would otherwise
// show up as a confusing oracle failure).
func (c chatCase) raw() (msgs, tools json.RawMessage) {
	msgs = json.RawMessage(c.messages)
	if c.tools != "" {
		tools = json.RawMessage(c.tools)
	}
	return msgs, tools
}
