package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ToolParser names a model family's tool-call output format.
type ToolParser string

// Tool-call formats (vLLM's parser names).
const (
	ToolParserNone    ToolParser = ""
	ToolParserHermes  ToolParser = "hermes"      // Qwen2.5/Qwen3: <tool_call>{"name", "arguments"}</tool_call>
	ToolParserLlama3  ToolParser = "llama3_json" // Llama-3.1: {"name", "parameters"} (after <|python_tag|>)
	ToolParserMistral ToolParser = "mistral"     // [TOOL_CALLS][{"name", "arguments"}, ...] or [TOOL_CALLS]name[ARGS]{...}
)

// ParseToolParser accepts the names above.
func ParseToolParser(s string) (ToolParser, error) {
	switch p := ToolParser(s); p {
	case ToolParserNone, ToolParserHermes, ToolParserLlama3, ToolParserMistral:
		return p, nil
	}
	return "", fmt.Errorf("unknown tool-call parser %q (want hermes, llama3_json or mistral)", s)
}

// toolCall is one parsed call.
type toolCall struct {
	Name      string
	Arguments string // JSON text of the arguments object
}

// marker is the text that opens a tool call ("" for Llama-3.1, whose calls
// are bare JSON objects).
func (p ToolParser) marker() string {
	switch p {
	case ToolParserHermes:
		return "<tool_call>"
	case ToolParserMistral:
		return "[TOOL_CALLS]"
	}
	return ""
}

// prefill is the text appended to the prompt to force a call (tool_choice
// "required") or a call of one function (a named tool_choice): the model
// continues from inside the call, so it cannot answer in prose.
func (p ToolParser) prefill(name string) string {
	q, _ := json.Marshal(name)
	switch p {
	case ToolParserHermes:
		if name == "" {
			return "<tool_call>\n{\"name\": \""
		}
		return "<tool_call>\n{\"name\": " + string(q) + ", \"arguments\": "
	case ToolParserMistral:
		if name == "" {
			return "[TOOL_CALLS][{\"name\": \""
		}
		return "[TOOL_CALLS][{\"name\": " + string(q) + ", \"arguments\": "
	case ToolParserLlama3:
		if name == "" {
			return "{\"name\": \""
		}
		return "{\"name\": " + string(q) + ", \"parameters\": "
	}
	return ""
}

// startsCall reports where in text a tool call begins, or -1. For Llama-3.1
// a call is an output that starts (after spaces) with "{".
func (p ToolParser) startsCall(text string) int {
	if p == ToolParserLlama3 {
		t := strings.TrimLeft(strings.TrimPrefix(strings.TrimLeft(text, " \t\r\n"), "<|python_tag|>"), " \t\r\n")
		if strings.HasPrefix(t, "{") {
			return 0
		}
		return -1
	}
	if m := p.marker(); m != "" {
		return strings.Index(text, m)
	}
	return -1
}

// parse splits a finished output into content and tool calls. ok is false
// when the text holds no well-formed call; then all of it is content.
func (p ToolParser) parse(text string) (content string, calls []toolCall, ok bool) {
	at := p.startsCall(text)
	if at < 0 {
		return text, nil, false
	}
	body := text[at:]
	switch p {
	case ToolParserHermes:
		calls, ok = parseHermes(body)
	case ToolParserMistral:
		calls, ok = parseMistral(strings.TrimPrefix(body, "[TOOL_CALLS]"))
	case ToolParserLlama3:
		calls, ok = parseLlama3(body)
	}
	if !ok {
		return text, nil, false
	}
	return strings.TrimRight(text[:at], " \t\r\n"), calls, true
}

// callObject is a call as models write it.
type callObject struct {
	Name       string          `json:"name"`
	Arguments  json.RawMessage `json:"arguments"`
	Parameters json.RawMessage `json:"parameters"`
}

func (c callObject) toolCall() (toolCall, bool) {
	args := c.Arguments
	if len(args) == 0 {
		args = c.Parameters
	}
	if c.Name == "" {
		return toolCall{}, false
	}
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	// Some models write the arguments as a JSON string holding the object.
	var s string
	if json.Unmarshal(args, &s) == nil {
		args = json.RawMessage(s)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, args); err != nil {
		return toolCall{}, false
	}
	return toolCall{Name: c.Name, Arguments: buf.String()}, true
}

// decodeObjects reads consecutive JSON values (objects, or arrays of them)
// from text, separated by spaces, commas or semicolons.
func decodeObjects(text string) ([]callObject, bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	var out []callObject
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			rest := strings.Trim(text[dec.InputOffset():], " \t\r\n,;")
			return out, len(out) > 0 && rest == ""
		}
		var one callObject
		var many []callObject
		switch {
		case json.Unmarshal(raw, &many) == nil:
			out = append(out, many...)
		case json.Unmarshal(raw, &one) == nil:
			out = append(out, one)
		default:
			return nil, false
		}
		// Skip separators between values.
		rest := text[dec.InputOffset():]
		trimmed := strings.TrimLeft(rest, " \t\r\n,;")
		if trimmed == "" {
			return out, len(out) > 0
		}
		text = trimmed
		dec = json.NewDecoder(strings.NewReader(text))
	}
}

func toCalls(objs []callObject) ([]toolCall, bool) {
	calls := make([]toolCall, 0, len(objs))
	for _, o := range objs {
		c, ok := o.toolCall()
		if !ok {
			return nil, false
		}
		calls = append(calls, c)
	}
	return calls, len(calls) > 0
}

// parseHermes reads <tool_call>{...}</tool_call> blocks; the last may be
// cut short of its closing tag by the end of generation.
func parseHermes(text string) ([]toolCall, bool) {
	var objs []callObject
	for _, part := range strings.Split(text, "<tool_call>")[1:] {
		body, _, _ := strings.Cut(part, "</tool_call>")
		got, ok := decodeObjects(strings.TrimSpace(body))
		if !ok {
			return nil, false
		}
		objs = append(objs, got...)
	}
	return toCalls(objs)
}

// parseLlama3 reads one or more {"name", "parameters"} objects.
func parseLlama3(text string) ([]toolCall, bool) {
	text = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "<|python_tag|>"))
	objs, ok := decodeObjects(text)
	if !ok {
		return nil, false
	}
	return toCalls(objs)
}

// parseMistral reads a JSON array of calls, or the newer name[ARGS]{...}
// form, after [TOOL_CALLS].
func parseMistral(text string) ([]toolCall, bool) {
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "[") || strings.HasPrefix(text, "{") {
		objs, ok := decodeObjects(text)
		if !ok {
			return nil, false
		}
		return toCalls(objs)
	}
	var calls []toolCall
	for _, part := range strings.Split(text, "[TOOL_CALLS]") {
		name, args, found := strings.Cut(strings.TrimSpace(part), "[ARGS]")
		if !found {
			return nil, false
		}
		c, ok := callObject{Name: strings.TrimSpace(name), Arguments: json.RawMessage(strings.TrimSpace(args))}.toolCall()
		if !ok {
			return nil, false
		}
		calls = append(calls, c)
	}
	return calls, len(calls) > 0
}
