package anthropic

import (
	"encoding/json"
	"testing"
)

// FuzzMessagesRequest: any body is refused with a 400 or becomes a chat
// body that is a JSON object with a model, messages and max_tokens >= 1.
func FuzzMessagesRequest(f *testing.F) {
	for _, s := range []string{simple,
		`{"model":"m","max_tokens":5,"system":[{"type":"text","text":"x"}],"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}],"tool_choice":{"type":"tool","name":"f"}}`,
		`{"max_tokens":0}`, `[]`, `{"messages":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := decode(body)
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		out, e := req.chatBody(false)
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		var chat struct {
			Model     string            `json:"model"`
			MaxTokens int               `json:"max_tokens"`
			Messages  []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(out, &chat); err != nil || chat.Model == "" || chat.MaxTokens < 1 || len(chat.Messages) == 0 {
			t.Fatalf("chat body %s (%v)", out, err)
		}
	})
}
