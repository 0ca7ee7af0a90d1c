package responses

import (
	"encoding/json"
	"testing"
)

// FuzzCreateRequest: any body is refused with a 400 or becomes a chat body
// that is a JSON object with the model and at least one message.
func FuzzCreateRequest(f *testing.F) {
	for _, s := range []string{`{"model":"m","input":"x"}`,
		`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"o"}],"instructions":"i"}`,
		`{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"required","text":{"format":{"type":"json_schema","name":"n","schema":{}}}}`,
		`{"model":"m","input":[]}`, `{"model":"m","max_output_tokens":0}`, `[]`} {
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
		msgs, e := req.inputMessages()
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		out, e := req.chatBody(msgs)
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		var chat struct {
			Model    string            `json:"model"`
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(out, &chat); err != nil || chat.Model == "" || len(chat.Messages) == 0 {
			t.Fatalf("chat body %s (%v)", out, err)
		}
	})
}
