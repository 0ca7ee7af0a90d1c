package openai

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	hello := ts.tok.Encode("Once upon a time", true)
	plain := ts.tok.Encode("Once upon a time", false)
	ids := func(v []int32) string { b, _ := json.Marshal(v); return string(b) }
	for _, tc := range []struct {
		name, path, body string
		status           int
		want             []int32 // tokens of a 200 /tokenize
		prompt           string  // prompt of a 200 /detokenize
		errSub           string
	}{
		{name: "prompt adds special tokens", path: "/tokenize", body: `{"model":"stories","prompt":"Once upon a time"}`, status: 200, want: hello},
		{name: "prompt without special tokens", path: "/tokenize", body: `{"prompt":"Once upon a time","add_special_tokens":false}`, status: 200, want: plain},
		{name: "messages through the template", path: "/tokenize", body: `{"model":"alias","messages":[{"role":"user","content":"Once upon a time"}]}`, status: 200, want: plain},
		{name: "neither", path: "/tokenize", body: `{"model":"stories"}`, status: 400, errSub: "prompt or messages"},
		{name: "both", path: "/tokenize", body: `{"prompt":"a","messages":[{"role":"user","content":"a"}]}`, status: 400, errSub: "not both"},
		{name: "unknown model", path: "/tokenize", body: `{"model":"nope","prompt":"a"}`, status: 404},
		{name: "wrong type", path: "/tokenize", body: `{"prompt":5}`, status: 400},
		{name: "detokenize", path: "/detokenize", body: `{"model":"stories","tokens":` + ids(plain) + `}`, status: 200, prompt: ts.tok.Decode(plain, false)},
		{name: "detokenize out of vocabulary", path: "/detokenize", body: `{"tokens":[1,99999999]}`, status: 400, errSub: "tokens[1]"},
		{name: "detokenize negative", path: "/detokenize", body: `{"tokens":[-1]}`, status: 400},
		{name: "detokenize no tokens", path: "/detokenize", body: `{}`, status: 400, errSub: "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := ts.post(tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.errSub != "" && !strings.Contains(body, tc.errSub) {
				t.Errorf("body %s lacks %q", body, tc.errSub)
			}
			if status != 200 {
				if !strings.Contains(body, `"error"`) {
					t.Errorf("not an error object: %s", body)
				}
				return
			}
			if tc.path == "/detokenize" {
				var got detokenizeResponse
				if err := json.Unmarshal([]byte(body), &got); err != nil || got.Prompt != tc.prompt {
					t.Errorf("got %s (%v), want prompt %q", body, err, tc.prompt)
				}
				return
			}
			var got tokenizeResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Tokens, tc.want) || got.Count != len(tc.want) || got.MaxModelLen != 512 || got.TokenStrs != nil {
				t.Errorf("got %s, want tokens %v, max_model_len 512", body, tc.want)
			}
		})
	}
	t.Run("token_strs", func(t *testing.T) {
		status, body, _ := ts.post("/tokenize", `{"prompt":"Once","add_special_tokens":false,"return_token_strs":true}`)
		var got tokenizeResponse
		if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil || got.TokenStrs == nil || len(*got.TokenStrs) != got.Count {
			t.Fatalf("status %d: %s", status, body)
		}
		for i, id := range got.Tokens {
			if s, _ := ts.tok.TokenString(id); (*got.TokenStrs)[i] != s {
				t.Errorf("token_strs[%d] = %q, want %q", i, (*got.TokenStrs)[i], s)
			}
		}
	})
	t.Run("GET is 405", func(t *testing.T) {
		if status, body := ts.get("/tokenize"); status != 405 {
			t.Errorf("status %d: %s", status, body)
		}
	})
}

// FuzzTokenizeBody: any /tokenize or /detokenize body is answered 200 or
// a 4xx, never a 500.
func FuzzTokenizeBody(f *testing.F) {
	for _, s := range []string{`{"prompt":"x"}`, `{"messages":[{"role":"user","content":"x"}],"return_token_strs":true}`,
		`{"tokens":[1,2,3]}`, `{"tokens":[-5]}`, `{"prompt":null,"messages":null}`, `[]`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	h := newTestServer(f, ToolParserNone).srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte, detok bool) {
		path := "/tokenize"
		if detok {
			path = "/detokenize"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("%s %q: status %d: %s", path, body, w.Code, w.Body)
		}
	})
}
