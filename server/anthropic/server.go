package anthropic

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sotasystems/sota/admission"
)

// Call is one chat completions request for a Generator.
type Call struct {
	Principal admission.Principal
	Class     admission.Class
	Body      []byte // a chat completions body
	RequestID string
	// Progress, when set, receives the generated text as it comes.
	Progress func(text string)
	// CountTokens asks only for the prompt's tokens: Body is then a
	// tokenize body (vLLM's /tokenize, messages and tools) and the reply
	// its {"count": N, ...}.
	CountTokens bool
}

// Reply is the chat endpoint's answer: a chat.completion object, or an
// error in OpenAI's shape with its status.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Generator runs a chat completions request in process.
type Generator interface {
	Chat(ctx context.Context, c Call) Reply
}

// Config sets up a Server.
type Config struct {
	Generator Generator
	// Auth resolves API keys; nil is open mode (every request runs as
	// OpenPrincipal, whose zero Tier is admission.OpenTier()).
	Auth          admission.Authenticator
	OpenPrincipal admission.Principal
	MaxBodyBytes  int64 // default 32 MiB
	Logger        *slog.Logger
}

// Server is the Messages API.
type Server struct {
	cfg Config
	log *slog.Logger
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Generator == nil {
		return nil, errors.New("anthropic server: no generator")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OpenPrincipal.Tier.Name == "" {
		cfg.OpenPrincipal.Tier = admission.OpenTier()
	}
	if cfg.OpenPrincipal.Tenant == "" {
		cfg.OpenPrincipal.Tenant = "default"
	}
	return &Server{cfg: cfg, log: cfg.Logger}, nil
}

// Mount adds the API's routes to mux.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/messages", s.messages)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.countTokens)
}

// authenticate finds the caller from x-api-key, else a Bearer token.
func (s *Server) authenticate(r *http.Request) (admission.Principal, *Error) {
	if s.cfg.Auth == nil {
		return s.cfg.OpenPrincipal, nil
	}
	key := strings.TrimSpace(r.Header.Get("X-Api-Key"))
	var err error
	if key == "" {
		key, err = admission.ParseBearer(r.Header.Get("Authorization"))
	}
	if err == nil {
		var p admission.Principal
		if p, err = s.cfg.Auth.Authenticate(r.Context(), key); err == nil {
			return p, nil
		}
	}
	if errors.Is(err, admission.ErrUnauthorized) {
		return admission.Principal{}, newError(http.StatusUnauthorized, strings.Replace(err.Error(),
			"Authorization: Bearer", "x-api-key or Authorization: Bearer", 1))
	}
	s.log.Error("authentication failed", "req", r.Header.Get("X-Request-Id"), "err", err)
	return admission.Principal{}, newError(http.StatusServiceUnavailable, "authentication is unavailable; try again")
}

// class is the priority class asked for in X-Siati-Tier, clamped to the
// tier's ceiling.
func class(r *http.Request, p admission.Principal) (admission.Class, *Error) {
	h := r.Header.Get("X-Siati-Tier")
	if h == "" {
		return p.DefaultClass(), nil
	}
	c, err := admission.ParseClass(h)
	if err != nil {
		return 0, invalid("X-Siati-Tier: " + err.Error())
	}
	return p.Tier.Clamp(c), nil
}

// read authenticates and decodes a Messages request into a chat body;
// ok false means the error is answered.
func (s *Server) read(w http.ResponseWriter, r *http.Request, count bool) (req *messagesRequest, call Call, ok bool) {
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" || len(reqID) > 256 {
		reqID = newID("req_")
	}
	w.Header().Set("Request-Id", reqID)
	w.Header().Set("X-Request-Id", reqID)
	p, e := s.authenticate(r)
	if e != nil {
		writeError(w, e)
		return nil, call, false
	}
	cl, e := class(r, p)
	if e != nil {
		writeError(w, e)
		return nil, call, false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, newError(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds %d bytes", s.cfg.MaxBodyBytes)))
			return nil, call, false
		}
		writeError(w, invalid("reading the body: "+err.Error()))
		return nil, call, false
	}
	if req, e = decode(raw); e != nil {
		writeError(w, e)
		return nil, call, false
	}
	body, e := req.chatBody(count)
	if e != nil {
		writeError(w, e)
		return nil, call, false
	}
	return req, Call{Principal: p, Class: cl, Body: body, RequestID: reqID, CountTokens: count}, true
}

// countTokens answers POST /v1/messages/count_tokens: the prompt's tokens
// as the chat template renders it.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	_, call, ok := s.read(w, r, true)
	if !ok {
		return
	}
	reply := s.cfg.Generator.Chat(r.Context(), call)
	if reply.Status != http.StatusOK {
		writeError(w, fromChat(reply.Status, reply.Body))
		return
	}
	var t struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(reply.Body, &t); err != nil {
		writeError(w, newError(http.StatusInternalServerError, "the tokenizer gave no count"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": t.Count})
}

// messages answers POST /v1/messages.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	req, call, ok := s.read(w, r, false)
	if !ok {
		return
	}
	if !req.Stream {
		reply := s.cfg.Generator.Chat(r.Context(), call)
		for _, h := range []string{"X-Sota-Priority"} {
			if v := reply.Header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		if reply.Status != http.StatusOK {
			writeError(w, fromChat(reply.Status, reply.Body))
			return
		}
		msg, e := fromCompletion(reply.Body, req.Model)
		if e != nil {
			writeError(w, e)
			return
		}
		writeJSON(w, http.StatusOK, msg)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{w: w, rc: http.NewResponseController(w), model: req.Model, id: newID("msg_"), buffer: len(req.Tools) > 0, cancel: cancel}
	if !st.buffer {
		call.Progress = st.text
	}
	reply := s.cfg.Generator.Chat(ctx, call)
	st.finish(reply)
}

// newID returns prefix followed by 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// message is Anthropic's message object.
type messageObject struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []contentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        usage          `json:"usage"`
}

type contentBlock struct {
	Type      string          `json:"type"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

type usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
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

// fromCompletion translates a chat.completion into a message.
func fromCompletion(body []byte, model string) (*messageObject, *Error) {
	var c completion
	if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) == 0 {
		return nil, newError(http.StatusInternalServerError, "the chat endpoint gave no choice")
	}
	ch := c.Choices[0]
	msg := &messageObject{ID: "msg_" + strings.TrimPrefix(c.ID, "chatcmpl-"), Type: "message", Role: "assistant", Model: model,
		Content: []contentBlock{}, Usage: usage{InputTokens: c.Usage.PromptTokens, OutputTokens: c.Usage.CompletionTokens}}
	if r := ch.Message.ReasoningContent; r != nil && *r != "" {
		// The reasoning parser's text, as a thinking block (unsigned: it
		// cannot be verified, and is not needed back).
		empty := ""
		msg.Content = append(msg.Content, contentBlock{Type: "thinking", Thinking: r, Signature: &empty})
	}
	text := ""
	if ch.Message.Content != nil {
		text = *ch.Message.Content
	}
	if text != "" || len(ch.Message.ToolCalls) == 0 {
		msg.Content = append(msg.Content, contentBlock{Type: "text", Text: &text})
	}
	for _, tc := range ch.Message.ToolCalls {
		input := json.RawMessage(tc.Function.Arguments)
		if !json.Valid(input) {
			input = json.RawMessage("{}")
		}
		id := tc.ID
		if id == "" {
			id = newID("toolu_")
		}
		msg.Content = append(msg.Content, contentBlock{Type: "tool_use", ID: id, Name: tc.Function.Name, Input: input})
	}
	reason := stopReason(ch.FinishReason)
	msg.StopReason = &reason
	return msg, nil
}

// stopReason maps a finish_reason to Anthropic's stop_reason. The chat
// endpoint does not say whether a stop string or the end of text ended the
// text, so both are end_turn (stop_sequence stays null).
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls":
		return "tool_use"
	}
	return "end_turn"
}
