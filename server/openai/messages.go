package openai

import (
	"bytes"
	"encoding/json"
	"strings"
)

// roles a chat message may have.
var roles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true}

// normalizeMessages checks "messages" and rewrites it for chat templates the
// way vLLM does: content parts become one string (text parts joined by
// newlines), "developer" becomes "system", and tool-call arguments given as
// JSON strings become objects. Other fields pass through in order.
func normalizeMessages(raw json.RawMessage) (json.RawMessage, *Error) {
	if isNull(raw) {
		return nil, invalid("messages", "messages is required")
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return nil, invalid("messages", "messages must be an array of message objects")
	}
	if len(msgs) == 0 {
		return nil, invalid("messages", "messages must not be empty")
	}
	out := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		fields, err := orderedObject(m)
		if err != nil {
			return nil, invalid("messages", "messages[%d] must be an object", i)
		}
		var b ordered
		var role string
		hasContent, hasCallID := false, false
		for _, f := range fields {
			switch f.key {
			case "name":
				var name string
				if json.Unmarshal(f.value, &name) != nil {
					return nil, invalid("messages", "messages[%d].name must be a string", i)
				}
				b.add(f.key, f.value)
			case "tool_call_id":
				var id string
				if json.Unmarshal(f.value, &id) != nil || isNull(f.value) {
					return nil, invalid("messages", "messages[%d].tool_call_id must be a string", i)
				}
				hasCallID = true
				b.add(f.key, f.value)
			case "role":
				if json.Unmarshal(f.value, &role) != nil || !roles[role] {
					return nil, invalid("messages", "messages[%d].role must be one of system, developer, user, assistant, tool", i)
				}
				if role == "developer" {
					role = "system"
				}
				b.add("role", mustJSON(role))
			case "content":
				c, e := contentString(f.value, i)
				if e != nil {
					return nil, e
				}
				hasContent = !isNull(c)
				b.add("content", c)
			case "tool_calls":
				tc, e := toolCallArgs(f.value, i)
				if e != nil {
					return nil, e
				}
				b.add("tool_calls", tc)
			default:
				b.add(f.key, f.value)
			}
		}
		if role == "" {
			return nil, invalid("messages", "messages[%d] has no role", i)
		}
		switch {
		case !hasContent && (role == "system" || role == "user" || role == "tool"):
			return nil, invalid("messages", "messages[%d] (%s) needs content", i, role)
		case role == "tool" && !hasCallID:
			return nil, invalid("messages", "messages[%d] (tool) needs tool_call_id", i)
		}
		out[i] = b.json()
	}
	res, _ := json.Marshal(out)
	return res, nil
}

// contentString flattens a content array of text parts into a string.
func contentString(raw json.RawMessage, i int) (json.RawMessage, *Error) {
	if isNull(raw) {
		return json.RawMessage("null"), nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return raw, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, invalid("messages", "messages[%d].content must be a string or an array of content parts", i)
	}
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return nil, invalid("messages", "messages[%d].content: only text parts are supported, got %q", i, p.Type)
		}
		texts = append(texts, *p.Text)
	}
	return mustJSON(strings.Join(texts, "\n")), nil
}

// toolCallArgs parses each call's string arguments into a JSON object, as
// templates expect (they apply tojson to it).
func toolCallArgs(raw json.RawMessage, i int) (json.RawMessage, *Error) {
	if isNull(raw) {
		return raw, nil
	}
	var calls []json.RawMessage
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, invalid("messages", "messages[%d].tool_calls must be an array", i)
	}
	for k, c := range calls {
		fields, err := orderedObject(c)
		if err != nil {
			return nil, invalid("messages", "messages[%d].tool_calls[%d] must be an object", i, k)
		}
		var b ordered
		for _, f := range fields {
			if f.key != "function" {
				b.add(f.key, f.value)
				continue
			}
			fn, err := orderedObject(f.value)
			if err != nil {
				return nil, invalid("messages", "messages[%d].tool_calls[%d].function must be an object", i, k)
			}
			var fb ordered
			for _, g := range fn {
				var s string
				if g.key == "arguments" && json.Unmarshal(g.value, &s) == nil {
					if !json.Valid([]byte(s)) {
						return nil, invalid("messages", "messages[%d].tool_calls[%d].function.arguments is not JSON", i, k)
					}
					g.value = json.RawMessage(s)
				}
				fb.add(g.key, g.value)
			}
			b.add("function", fb.json())
		}
		calls[k] = b.json()
	}
	out, _ := json.Marshal(calls)
	return out, nil
}

type field struct {
	key   string
	value json.RawMessage
}

// orderedObject reads a JSON object's fields in order.
func orderedObject(raw json.RawMessage) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errBadJSON
	}
	var fields []field
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fields = append(fields, field{k.(string), v})
	}
	return fields, nil
}

// ordered builds a JSON object keeping insertion order.
type ordered struct{ buf bytes.Buffer }

func (o *ordered) add(key string, value json.RawMessage) {
	if o.buf.Len() == 0 {
		o.buf.WriteByte('{')
	} else {
		o.buf.WriteByte(',')
	}
	o.buf.Write(mustJSON(key))
	o.buf.WriteByte(':')
	o.buf.Write(value)
}

func (o *ordered) json() json.RawMessage {
	if o.buf.Len() == 0 {
		return json.RawMessage("{}")
	}
	return append(o.buf.Bytes(), '}')
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// NormalizeMessages is what the chat endpoint does to "messages" before the
// template sees them (content parts joined, developer as system, tool-call
// arguments as objects), for tools that must render exactly as the server
// does (sota tokenize --chat).
func NormalizeMessages(raw json.RawMessage) (json.RawMessage, error) {
	out, e := normalizeMessages(raw)
	if e != nil {
		return nil, e
	}
	return out, nil
}
