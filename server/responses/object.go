package responses

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// responseObject is the Responses API's response.
type responseObject struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	CompletedAt        *int64            `json:"completed_at"`
	Error              *responseError    `json:"error"`
	IncompleteDetails  *incomplete       `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []outputItem      `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Store              bool              `json:"store"`
	Temperature        *float64          `json:"temperature"`
	Text               any               `json:"text"`
	ToolChoice         any               `json:"tool_choice"`
	Tools              []tool            `json:"tools"`
	TopP               *float64          `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              *responseUsage    `json:"usage"`
	User               *string           `json:"user"`
	Metadata           map[string]string `json:"metadata"`

	msgID string // the message item's id (known before its text, for a stream)
}

type responseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type incomplete struct {
	Reason string `json:"reason"`
}

// outputItem is a message or a function_call output item.
type outputItem struct {
	Type      string        `json:"type"`
	ID        string        `json:"id"`
	Status    string        `json:"status"`
	Role      string        `json:"role,omitempty"`
	Summary   *[]outputText `json:"summary,omitempty"` // reasoning only
	Content   *[]outputText `json:"content,omitempty"` // messages and reasoning (a pointer: [] is kept)
	CallID    string        `json:"call_id,omitempty"`
	Name      string        `json:"name,omitempty"`
	Arguments *string       `json:"arguments,omitempty"`
}

// outputText is a content part: output_text, or (in a reasoning item)
// reasoning_text, which has no annotations or logprobs.
type outputText struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
	Logprobs    []any  `json:"logprobs"`
}

func (p outputText) MarshalJSON() ([]byte, error) {
	if p.Type == "output_text" {
		type plain outputText
		return json.Marshal(plain(p))
	}
	return json.Marshal(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{p.Type, p.Text})
}

type responseUsage struct {
	InputTokens         int            `json:"input_tokens"`
	InputTokensDetails  map[string]int `json:"input_tokens_details"`
	OutputTokens        int            `json:"output_tokens"`
	OutputTokensDetails map[string]int `json:"output_tokens_details"`
	TotalTokens         int            `json:"total_tokens"`
}

// newObject is req's response before generation (in_progress).
func (s *Server) newObject(req *createRequest) *responseObject {
	o := &responseObject{ID: newID("resp_"), msgID: newID("msg_"), Object: "response", CreatedAt: s.cfg.Now().Unix(), Status: "in_progress",
		Instructions: req.Instructions, MaxOutputTokens: req.MaxOutputTokens, Model: req.Model, Output: []outputItem{},
		ParallelToolCalls: req.ParallelToolCalls == nil || *req.ParallelToolCalls, PreviousResponseID: req.PreviousResponseID,
		Store: req.stored(), Temperature: req.Temperature, Text: map[string]any{"format": map[string]string{"type": "text"}},
		ToolChoice: "auto", Tools: req.Tools, TopP: req.TopP, Truncation: "disabled", User: req.User, Metadata: req.Metadata}
	if req.Text != nil && req.Text.Format != nil {
		o.Text = req.Text
	}
	if len(req.ToolChoice) > 0 && string(req.ToolChoice) != "null" {
		o.ToolChoice = req.ToolChoice
	}
	if o.Tools == nil {
		o.Tools = []tool{}
	}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	return o
}

// completion is the part of a chat.completion object read here.
type completion struct {
	ID      string `json:"id"`
	Choices []struct {
		FinishReason string `json:"finish_reason"`
		Message      struct {
			Content          *string    `json:"content"`
			ReasoningContent *string    `json:"reasoning_content"`
			ToolCalls        []chatCall `json:"tool_calls"`
		} `json:"message"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// complete fills o's output from a chat.completion and returns the
// assistant message it adds to the conversation.
func (o *responseObject) complete(body []byte, now time.Time) (chatMessage, *Error) {
	var c completion
	if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) == 0 {
		return chatMessage{}, newError(http.StatusInternalServerError, "", "the chat endpoint gave no choice")
	}
	ch := c.Choices[0]
	text := ""
	if ch.Message.Content != nil {
		text = *ch.Message.Content
	}
	if r := ch.Message.ReasoningContent; r != nil && *r != "" {
		o.Output = append(o.Output, outputItem{Type: "reasoning", ID: "rs_" + strings.TrimPrefix(o.msgID, "msg_"), Status: "completed",
			Summary: &[]outputText{}, Content: &[]outputText{{Type: "reasoning_text", Text: *r}}})
	}
	if text != "" || len(ch.Message.ToolCalls) == 0 {
		o.Output = append(o.Output, outputItem{Type: "message", ID: o.msgID, Status: "completed", Role: "assistant",
			Content: &[]outputText{{Type: "output_text", Text: text, Annotations: []any{}, Logprobs: []any{}}}})
	}
	for _, tc := range ch.Message.ToolCalls {
		args := tc.Function.Arguments
		o.Output = append(o.Output, outputItem{Type: "function_call", ID: "fc_" + strings.TrimPrefix(tc.ID, "call_"), Status: "completed",
			CallID: tc.ID, Name: tc.Function.Name, Arguments: &args})
	}
	o.Status = "completed"
	if ch.FinishReason == "length" {
		o.Status = "incomplete"
		o.IncompleteDetails = &incomplete{Reason: "max_output_tokens"}
		for i := range o.Output {
			o.Output[i].Status = "incomplete"
		}
	}
	at := now.Unix()
	o.CompletedAt = &at
	o.Usage = &responseUsage{InputTokens: c.Usage.PromptTokens, InputTokensDetails: map[string]int{"cached_tokens": 0},
		OutputTokens: c.Usage.CompletionTokens, OutputTokensDetails: map[string]int{"reasoning_tokens": 0},
		TotalTokens: c.Usage.PromptTokens + c.Usage.CompletionTokens}
	return chatMessage{Role: "assistant", Content: &text, ToolCalls: ch.Message.ToolCalls}, nil
}
