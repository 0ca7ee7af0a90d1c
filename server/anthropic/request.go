package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// messagesRequest is the body of POST /v1/messages.
type messagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens"`
	System        json.RawMessage `json:"system"`
	Messages      []message       `json:"messages"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *int            `json:"top_k"`
	Tools         []tool          `json:"tools"`
	ToolChoice    *toolChoice     `json:"tool_choice"`
	Metadata      *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // a string or content blocks
}

// block is one content block of a message (the fields of every type).
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // tool_result: a string or text blocks
	IsError   bool            `json:"is_error"`
}

type tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type string `json:"type"` // auto, any, tool, none
	Name string `json:"name"`
}

// decode reads a Messages body.
func decode(body []byte) (*messagesRequest, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, invalid("the body must be a JSON object")
	}
	var req messagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid("invalid request body: " + err.Error())
	}
	return &req, nil
}

// chatMessage is a message of the chat completions body.
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

// chatBody translates req into a chat completions body (never streamed:
// the stream's deltas come through the progress callback). For count, a
// request without max_tokens (count_tokens takes none) is whole too.
func (req *messagesRequest) chatBody(count bool) ([]byte, *Error) {
	if req.Model == "" {
		return nil, invalid("model: Field required")
	}
	switch {
	case req.MaxTokens == nil && !count:
		return nil, invalid("max_tokens: Field required")
	case req.MaxTokens != nil && *req.MaxTokens < 1:
		return nil, invalid(fmt.Sprintf("max_tokens: %d: must be at least 1", *req.MaxTokens))
	}
	if len(req.Messages) == 0 {
		return nil, invalid("messages: at least one message is required")
	}
	var msgs []chatMessage
	if len(req.System) > 0 && string(req.System) != "null" {
		text, e := textOf(req.System, "system")
		if e != nil {
			return nil, e
		}
		msgs = append(msgs, chatMessage{Role: "system", Content: &text})
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, invalid(fmt.Sprintf("messages.%d.role: %q: must be user or assistant", i, m.Role))
		}
		out, e := m.chat(i)
		if e != nil {
			return nil, e
		}
		msgs = append(msgs, out...)
	}
	body := map[string]any{"model": req.Model, "messages": msgs}
	if req.MaxTokens != nil {
		body["max_tokens"] = *req.MaxTokens
	}
	if len(req.StopSequences) > 0 {
		body["stop"] = req.StopSequences
	}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if req.TopP != nil {
		body["top_p"] = *req.TopP
	}
	if req.TopK != nil {
		body["top_k"] = *req.TopK
	}
	if req.Metadata != nil && req.Metadata.UserID != "" {
		body["user"] = req.Metadata.UserID
	}
	if len(req.Tools) > 0 && (req.ToolChoice == nil || req.ToolChoice.Type != "none") {
		tools := make([]any, len(req.Tools))
		for i, t := range req.Tools {
			if t.Name == "" {
				return nil, invalid(fmt.Sprintf("tools.%d.name: Field required", i))
			}
			if t.Type != "" && t.Type != "custom" {
				return nil, invalid(fmt.Sprintf("tools.%d.type: %q: only custom tools are served", i, t.Type))
			}
			fn := map[string]any{"name": t.Name}
			if t.Description != "" {
				fn["description"] = t.Description
			}
			if len(t.InputSchema) > 0 {
				fn["parameters"] = t.InputSchema
			}
			tools[i] = map[string]any{"type": "function", "function": fn}
		}
		body["tools"] = tools
		if c := req.ToolChoice; c != nil {
			switch c.Type {
			case "auto", "":
				body["tool_choice"] = "auto"
			case "any":
				body["tool_choice"] = "required"
			case "tool":
				body["tool_choice"] = map[string]any{"type": "function", "function": map[string]string{"name": c.Name}}
			default:
				return nil, invalid(fmt.Sprintf("tool_choice.type: %q: must be auto, any, tool or none", c.Type))
			}
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, invalid(err.Error())
	}
	return b, nil
}

// chat translates one message: text becomes content, tool_use blocks the
// assistant's tool calls, tool_result blocks tool messages.
func (m message) chat(i int) ([]chatMessage, *Error) {
	where := fmt.Sprintf("messages.%d.content", i)
	var s string
	if err := json.Unmarshal(m.Content, &s); err == nil {
		return []chatMessage{{Role: m.Role, Content: &s}}, nil
	}
	var blocks []block
	if err := json.Unmarshal(m.Content, &blocks); err != nil {
		return nil, invalid(where + ": must be a string or a list of content blocks")
	}
	var out []chatMessage
	var text bytes.Buffer
	var calls []chatCall
	for j, b := range blocks {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			if m.Role != "assistant" {
				return nil, invalid(fmt.Sprintf("%s.%d: tool_use blocks belong to assistant messages", where, j))
			}
			c := chatCall{ID: b.ID, Type: "function"}
			c.Function.Name = b.Name
			c.Function.Arguments = "{}"
			if len(b.Input) > 0 {
				c.Function.Arguments = string(b.Input)
			}
			calls = append(calls, c)
		case "tool_result":
			if m.Role != "user" {
				return nil, invalid(fmt.Sprintf("%s.%d: tool_result blocks belong to user messages", where, j))
			}
			result := ""
			if len(b.Content) > 0 && string(b.Content) != "null" {
				var e *Error
				if result, e = textOf(b.Content, fmt.Sprintf("%s.%d.content", where, j)); e != nil {
					return nil, e
				}
			}
			out = append(out, chatMessage{Role: "tool", Content: &result, ToolCallID: b.ToolUseID})
		default:
			return nil, invalid(fmt.Sprintf("%s.%d.type: %q: only text, tool_use and tool_result blocks are served", where, j, b.Type))
		}
	}
	if text.Len() > 0 || len(calls) > 0 || len(out) == 0 {
		t := text.String()
		cm := chatMessage{Role: m.Role, Content: &t, ToolCalls: calls}
		out = append(out, cm)
	}
	return out, nil
}

// textOf reads a string or a list of text blocks as one text.
func textOf(raw json.RawMessage, where string) (string, *Error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", invalid(where + ": must be a string or a list of text blocks")
	}
	var b bytes.Buffer
	for j, bl := range blocks {
		if bl.Type != "text" {
			return "", invalid(fmt.Sprintf("%s.%d.type: %q: only text blocks are served here", where, j, bl.Type))
		}
		b.WriteString(bl.Text)
	}
	return b.String(), nil
}
