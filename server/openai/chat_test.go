package openai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/sotasystems/sota/tokenizer"
)

func userChat(content string) sdk.ChatCompletionNewParams {
	return sdk.ChatCompletionNewParams{Model: "stories", Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage(content)}}
}

func TestChatCompletion(t *testing.T) {
	ts := newTestServer(t, ToolParserNone, reply{"Hello", "Once upon a time there was a cat.", false})
	want := ts.text("Hello", "Once upon a time there was a cat.")
	resp, err := ts.client.Chat.Completions.New(t.Context(), userChat("Hello"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != want || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("response %+v, want content %q", resp.Choices, want)
	}
	out := len(ts.tok.Encode("Once upon a time there was a cat.", false)) + 1 // EOS counts
	if u := resp.Usage; u.PromptTokens != int64(len(ts.tok.Encode("Hello", false))) || u.CompletionTokens != int64(out) ||
		u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %+v", u)
	}
	if resp.Object != "chat.completion" || !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Model != "stories" {
		t.Fatalf("envelope %q %q %q", resp.Object, resp.ID, resp.Model)
	}
}

func TestChatStreaming(t *testing.T) {
	ts := newTestServer(t, ToolParserNone, reply{"Hello", "Once upon a time there was a cat.", false})
	want := ts.text("Hello", "Once upon a time there was a cat.")
	p := userChat("Hello")
	p.N = sdk.Int(2)
	p.StreamOptions = sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)}
	stream := ts.client.Chat.Completions.NewStreaming(t.Context(), p)
	acc := sdk.ChatCompletionAccumulator{}
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 2 || chunks < 10 {
		t.Fatalf("%d choices in %d chunks", len(acc.Choices), chunks)
	}
	for _, c := range acc.Choices {
		if c.Message.Content != want || c.FinishReason != "stop" {
			t.Fatalf("choice %d: %q %q, want %q", c.Index, c.Message.Content, c.FinishReason, want)
		}
	}
	if acc.Usage.CompletionTokens != 2*int64(len(ts.tok.Encode("Once upon a time there was a cat.", false))+1) {
		t.Fatalf("usage %+v", acc.Usage)
	}
}

// Stop strings end the text before them even when they span tokens, in
// both response modes, and the sequence stops in the engine.
func TestStopStrings(t *testing.T) {
	const story = "Once upon a time there was a cat. It liked milk."
	ts := newTestServer(t, ToolParserNone, reply{"Hi", story, false})
	full := ts.text("Hi", story)
	tests := []struct {
		stop []string
		want string
	}{
		{[]string{"cat."}, full[:strings.Index(full, "cat.")]},
		{[]string{"here was"}, full[:strings.Index(full, "here was")]}, // starts mid-token
		{[]string{"milk", "time"}, full[:strings.Index(full, "time")]},
		{[]string{"dog"}, full},
	}
	for _, tc := range tests {
		for _, streaming := range []bool{false, true} {
			p := userChat("Hi")
			p.Stop = sdk.ChatCompletionNewParamsStopUnion{OfStringArray: tc.stop}
			var content, finish string
			if streaming {
				stream := ts.client.Chat.Completions.NewStreaming(t.Context(), p)
				acc := sdk.ChatCompletionAccumulator{}
				for stream.Next() {
					acc.AddChunk(stream.Current())
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				content, finish = acc.Choices[0].Message.Content, acc.Choices[0].FinishReason
			} else {
				resp, err := ts.client.Chat.Completions.New(t.Context(), p)
				if err != nil {
					t.Fatal(err)
				}
				content, finish = resp.Choices[0].Message.Content, resp.Choices[0].FinishReason
			}
			if content != tc.want || finish != "stop" {
				t.Errorf("stop %q (stream %v): %q %q, want %q", tc.stop, streaming, content, finish, tc.want)
			}
		}
	}
}

func TestMaxTokensAndLogprobs(t *testing.T) {
	ts := newTestServer(t, ToolParserNone, reply{"Hi", "Once upon a time there was a cat.", false})
	p := userChat("Hi")
	p.MaxCompletionTokens = sdk.Int(3)
	p.Logprobs = sdk.Bool(true)
	p.TopLogprobs = sdk.Int(2)
	resp, err := ts.client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.FinishReason != "length" || resp.Usage.CompletionTokens != 3 || len(c.Logprobs.Content) != 3 {
		t.Fatalf("finish %q usage %+v logprobs %d", c.FinishReason, resp.Usage, len(c.Logprobs.Content))
	}
	var joined string
	for _, lp := range c.Logprobs.Content {
		if lp.Logprob != -0.5 || len(lp.TopLogprobs) != 2 || lp.TopLogprobs[0].Token != lp.Token || len(lp.Bytes) != len(lp.Token) {
			t.Fatalf("logprob entry %+v", lp)
		}
		joined += lp.Token
	}
	if joined != c.Message.Content {
		t.Fatalf("logprob tokens %q do not spell the content %q", joined, c.Message.Content)
	}
}

func TestSamplingExtensionsAndSeed(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	p := userChat("Anything")
	p.Temperature = sdk.Float(0.8)
	p.Seed = sdk.Int(7)
	p.MaxTokens = sdk.Int(6)
	a, err := ts.client.Chat.Completions.New(t.Context(), p, option.WithJSONSet("top_k", 5), option.WithJSONSet("min_p", 0.1),
		option.WithJSONSet("repetition_penalty", 1.1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Choices[0].Message.Content != b.Choices[0].Message.Content || a.Usage.CompletionTokens != 6 {
		t.Fatalf("same prompt and seed gave %q and %q", a.Choices[0].Message.Content, b.Choices[0].Message.Content)
	}
}

const weatherCall = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>"

func weatherTool() sdk.ChatCompletionToolUnionParam {
	return sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name: "get_weather", Description: sdk.String("Weather forecast"),
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
	})
}

func TestToolCalls(t *testing.T) {
	ts := newTestServer(t, ToolParserHermes,
		reply{"Weather in Paris?", weatherCall, false},
		reply{"Say hi", "Hi there.", false})
	for _, streaming := range []bool{false, true} {
		p := userChat("Weather in Paris?")
		p.Tools = []sdk.ChatCompletionToolUnionParam{weatherTool()}
		var msg sdk.ChatCompletionMessage
		var finish string
		if streaming {
			stream := ts.client.Chat.Completions.NewStreaming(t.Context(), p)
			acc := sdk.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			msg, finish = acc.Choices[0].Message, acc.Choices[0].FinishReason
		} else {
			resp, err := ts.client.Chat.Completions.New(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			msg, finish = resp.Choices[0].Message, resp.Choices[0].FinishReason
		}
		if finish != "tool_calls" || len(msg.ToolCalls) != 1 || strings.TrimSpace(msg.Content) != "" {
			t.Fatalf("stream %v: finish %q, %d calls, content %q", streaming, finish, len(msg.ToolCalls), msg.Content)
		}
		call := msg.ToolCalls[0]
		if call.Function.Name != "get_weather" || call.Function.Arguments != `{"city":"Paris","days":2}` ||
			!strings.HasPrefix(call.ID, "call_") || call.Type != "function" {
			t.Fatalf("stream %v: call %+v", streaming, call)
		}
	}
	// A plain answer with tools offered stays content.
	p := userChat("Say hi")
	p.Tools = []sdk.ChatCompletionToolUnionParam{weatherTool()}
	resp, err := ts.client.Chat.Completions.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].FinishReason != "stop" || len(resp.Choices[0].Message.ToolCalls) != 0 ||
		resp.Choices[0].Message.Content != ts.text("Say hi", "Hi there.") {
		t.Fatalf("plain answer: %+v", resp.Choices[0])
	}
}

// A named tool_choice appends the call's opening to the prompt, so the
// model can only write the arguments.
func TestNamedToolChoicePrefill(t *testing.T) {
	ts := newTestServer(t, ToolParserHermes)
	var req chatRequest
	body := `{"messages": [{"role": "user", "content": "Weather?"}],
		"tools": [{"type": "function", "function": {"name": "get_weather"}}],
		"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}`
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	cp, e := ts.srv.renderChat(ts.model, &req)
	if e != nil {
		t.Fatal(e)
	}
	want := ToolParserHermes.prefill("get_weather")
	if cp.prefill != want || ts.tok.Decode(cp.ids, false) != ts.tok.Decode(ts.tok.Encode("Weather?"+want, false), false) {
		t.Fatalf("prefill %q, prompt %q", cp.prefill, ts.tok.Decode(cp.ids, false))
	}
	if code, out, _ := ts.post("/v1/chat/completions", strings.Replace(body, `"name": "get_weather"}}}`, `"name": "other"}}}`, 1)); code != 400 || !strings.Contains(out, "tool_choice") {
		t.Fatalf("unknown function in tool_choice: %d %s", code, out)
	}
}

func TestChatErrorsThroughTheSDK(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	p := userChat("Hi")
	p.Model = "missing"
	_, err := ts.client.Chat.Completions.New(t.Context(), p)
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" || apiErr.Param != "model" {
		t.Fatalf("unknown model: %v", err)
	}
	p = userChat(strings.Repeat("word ", 600))
	_, err = ts.client.Chat.Completions.New(t.Context(), p)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "context_length_exceeded" {
		t.Fatalf("prompt too long: %v", err)
	}
	p = userChat("Hi")
	p.ResponseFormat = sdk.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
		JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "no", Schema: map[string]any{"not": map[string]any{}}}}}
	_, err = ts.client.Chat.Completions.New(t.Context(), p)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "response_format" || !strings.Contains(apiErr.Message, "not") {
		t.Fatalf("response_format: %v", err)
	}
}

func TestContinueFinalMessage(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	tmpl, err := tokenizer.NewTemplate(map[string]string{"default": "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] | trim }}</{{ m['role'] }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.model.Template = tmpl
	tests := []struct {
		body, want string
		status     int
	}{
		{`"continue_final_message": true, "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Once upon "}]`,
			"<user>Hi</user><assistant>Once upon", 0},
		{`"messages": [{"role": "user", "content": "Hi"}]`, "<user>Hi</user><assistant>", 0},
		{`"continue_final_message": true, "add_generation_prompt": true, "messages": [{"role": "user", "content": "Hi"}]`, "", 400},
		{`"continue_final_message": true, "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": null}]`, "", 400},
	}
	for _, tc := range tests {
		var req chatRequest
		if err := json.Unmarshal([]byte("{"+tc.body+"}"), &req); err != nil {
			t.Fatal(err)
		}
		cp, e := ts.srv.renderChat(ts.model, &req)
		if tc.status != 0 {
			if e == nil || e.Status != tc.status || *e.Param != "continue_final_message" {
				t.Fatalf("%s: error %v", tc.body, e)
			}
			continue
		}
		if e != nil {
			t.Fatalf("%s: %v", tc.body, e)
		}
		if got := ts.tok.Decode(cp.ids, false); got != ts.tok.Decode(ts.tok.Encode(tc.want, false), false) {
			t.Fatalf("%s: prompt %q, want %q", tc.body, got, tc.want)
		}
	}
}
