package responses

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// createRequest is the body of POST /v1/responses.
type createRequest struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"` // a string or input items
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	Stream             bool              `json:"stream"`
	Store              *bool             `json:"store"`
	Background         bool              `json:"background"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Tools              []tool            `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	Text               *textConfig       `json:"text"`
	Metadata           map[string]string `json:"metadata"`
	User               *string           `json:"user"`
}

type tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description *string         `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

type textConfig struct {
	Format *struct {
		Type   string          `json:"type"`
		Name   string          `json:"name,omitempty"`
		Schema json.RawMessage `json:"schema,omitempty"`
		Strict *bool           `json:"strict,omitempty"`
	} `json:"format"`
}

// item is one input item (the fields of every type served).
type item struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"` // a string or content parts
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"` // a string (or text parts)
}

type part struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// chatMessage is a message of the chat completions body, and of a stored
// conversation.
type chatMessage struct {
	Role       string     `json:"role"`
	Content    *string    `json:"content"`
	ToolCalls  []chatCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type chatCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func decode(body []byte) (*createRequest, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, invalid("", "the body must be a JSON object")
	}
	var req createRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid("", "invalid request body: "+err.Error())
	}
	switch {
	case req.Model == "":
		return nil, invalid("model", "model is required")
	case req.Background:
		return nil, invalid("background", "background mode is not served; use stream or a plain request")
	case req.MaxOutputTokens != nil && *req.MaxOutputTokens < 1:
		return nil, invalid("max_output_tokens", fmt.Sprintf("max_output_tokens = %d: must be at least 1", *req.MaxOutputTokens))
	}
	return &req, nil
}

// stored reports whether the response is to be stored (OpenAI's default).
func (req *createRequest) stored() bool { return req.Store == nil || *req.Store }

// inputMessages translates the input into chat messages.
func (req *createRequest) inputMessages() ([]chatMessage, *Error) {
	var s string
	if err := json.Unmarshal(req.Input, &s); err == nil {
		return []chatMessage{{Role: "user", Content: &s}}, nil
	}
	var items []item
	if err := json.Unmarshal(req.Input, &items); err != nil {
		return nil, invalid("input", "input must be a string or a list of input items")
	}
	if len(items) == 0 {
		return nil, invalid("input", "input is empty")
	}
	var out []chatMessage
	for i, it := range items {
		where := fmt.Sprintf("input[%d]", i)
		switch it.Type {
		case "", "message":
			switch it.Role {
			case "user", "assistant", "system", "developer":
			default:
				return nil, invalid(where+".role", fmt.Sprintf("role %q: must be user, assistant, system or developer", it.Role))
			}
			text, e := contentText(it.Content, where+".content")
			if e != nil {
				return nil, e
			}
			out = append(out, chatMessage{Role: it.Role, Content: &text})
		case "function_call":
			if it.CallID == "" || it.Name == "" {
				return nil, invalid(where, "a function_call item needs call_id and name")
			}
			c := chatCall{ID: it.CallID, Type: "function"}
			c.Function.Name, c.Function.Arguments = it.Name, it.Arguments
			if n := len(out); n > 0 && out[n-1].Role == "assistant" && len(out[n-1].ToolCalls) > 0 {
				out[n-1].ToolCalls = append(out[n-1].ToolCalls, c)
			} else {
				empty := ""
				out = append(out, chatMessage{Role: "assistant", Content: &empty, ToolCalls: []chatCall{c}})
			}
		case "function_call_output":
			if it.CallID == "" {
				return nil, invalid(where+".call_id", "a function_call_output item needs call_id")
			}
			text, e := contentText(it.Output, where+".output")
			if e != nil {
				return nil, e
			}
			out = append(out, chatMessage{Role: "tool", Content: &text, ToolCallID: it.CallID})
		default:
			return nil, invalid(where+".type", fmt.Sprintf("item type %q is not served (message, function_call, function_call_output are)", it.Type))
		}
	}
	return out, nil
}

// contentText reads a string or text parts as one text.
func contentText(raw json.RawMessage, where string) (string, *Error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []part
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", invalid(where, "content must be a string or a list of content parts")
	}
	var b strings.Builder
	for j, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			b.WriteString(p.Text)
		default:
			return "", invalid(fmt.Sprintf("%s[%d].type", where, j), fmt.Sprintf("content type %q is not served (text only)", p.Type))
		}
	}
	return b.String(), nil
}

// chatBody is the chat completions body of req over the conversation
// (previous messages and this input, without the instructions).
func (req *createRequest) chatBody(conversation []chatMessage) ([]byte, *Error) {
	msgs := conversation
	if req.Instructions != nil && *req.Instructions != "" {
		msgs = append([]chatMessage{{Role: "system", Content: req.Instructions}}, conversation...)
	}
	body := map[string]any{"model": req.Model, "messages": msgs}
	if req.MaxOutputTokens != nil {
		body["max_tokens"] = *req.MaxOutputTokens
	}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if req.TopP != nil {
		body["top_p"] = *req.TopP
	}
	if req.User != nil {
		body["user"] = *req.User
	}
	if len(req.Tools) > 0 {
		tools := make([]any, len(req.Tools))
		for i, t := range req.Tools {
			if t.Type != "function" {
				return nil, invalid(fmt.Sprintf("tools[%d].type", i), fmt.Sprintf("tool type %q is not served (function is)", t.Type))
			}
			if t.Name == "" {
				return nil, invalid(fmt.Sprintf("tools[%d].name", i), "a function tool needs a name")
			}
			fn := map[string]any{"name": t.Name}
			if t.Description != nil {
				fn["description"] = *t.Description
			}
			if len(t.Parameters) > 0 {
				fn["parameters"] = t.Parameters
			}
			tools[i] = map[string]any{"type": "function", "function": fn}
		}
		body["tools"] = tools
	}
	if len(req.ToolChoice) > 0 && string(req.ToolChoice) != "null" {
		var mode string
		var named struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}
		switch {
		case json.Unmarshal(req.ToolChoice, &mode) == nil:
			body["tool_choice"] = mode // none, auto, required: the chat endpoint checks
		case json.Unmarshal(req.ToolChoice, &named) == nil && named.Type == "function":
			body["tool_choice"] = map[string]any{"type": "function", "function": map[string]string{"name": named.Name}}
		default:
			return nil, invalid("tool_choice", "tool_choice must be none, auto, required or {\"type\":\"function\",\"name\":...}")
		}
	}
	if req.ParallelToolCalls != nil {
		body["parallel_tool_calls"] = *req.ParallelToolCalls
	}
	if req.Text != nil && req.Text.Format != nil {
		switch f := req.Text.Format; f.Type {
		case "text", "":
		case "json_object":
			body["response_format"] = map[string]string{"type": "json_object"}
		case "json_schema":
			js := map[string]any{"name": f.Name, "schema": f.Schema}
			if f.Strict != nil {
				js["strict"] = *f.Strict
			}
			body["response_format"] = map[string]any{"type": "json_schema", "json_schema": js}
		default:
			return nil, invalid("text.format.type", fmt.Sprintf("format %q: must be text, json_object or json_schema", f.Type))
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, invalid("", err.Error())
	}
	return b, nil
}
