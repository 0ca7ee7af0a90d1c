package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// tokenizeRequest is the body of POST /tokenize, vLLM's two shapes: a
// prompt, or chat messages rendered with the model's template.
type tokenizeRequest struct {
	Model                string          `json:"model"`
	Prompt               *string         `json:"prompt"`
	Messages             json.RawMessage `json:"messages"`
	Tools                json.RawMessage `json:"tools"`
	AddSpecialTokens     *bool           `json:"add_special_tokens"`
	AddGenerationPrompt  *bool           `json:"add_generation_prompt"`
	ContinueFinalMessage bool            `json:"continue_final_message"`
	ChatTemplateKwargs   map[string]any  `json:"chat_template_kwargs"`
	ReturnTokenStrs      bool            `json:"return_token_strs"`
}

type tokenizeResponse struct {
	Count       int       `json:"count"`
	MaxModelLen int       `json:"max_model_len"`
	Tokens      []int32   `json:"tokens"`
	TokenStrs   *[]string `json:"token_strs"`
}

type detokenizeRequest struct {
	Model  string  `json:"model"`
	Tokens []int32 `json:"tokens"`
}

type detokenizeResponse struct {
	Prompt string `json:"prompt"`
}

// tokenModel decodes a tokenize body and finds its model, checking the
// caller's tier may use it.
func (s *Server) tokenModel(r *http.Request, req any, name *string) (*Model, *Error) {
	if e := readBody(r, req); e != nil {
		return nil, e
	}
	p := recordFrom(r.Context()).principal
	m, e := s.model(*name, p.Tier)
	if e != nil {
		return nil, e
	}
	served := servedName(m, *name)
	if !p.Tier.AllowsModel(served) && !p.Tier.AllowsModel(m.Name) {
		return nil, apiError(http.StatusForbidden, "permission_denied", "model", "permission_denied",
			fmt.Sprintf("the model %q is not in your tier (%s)", served, p.Tier.Name))
	}
	return m, nil
}

// tokenize answers POST /tokenize: the prompt's token ids (chat messages
// through the template, as the chat endpoint would send them).
func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) {
	var req tokenizeRequest
	m, e := s.tokenModel(r, &req, &req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	var ids []int32
	switch {
	case req.Prompt != nil && !isNull(req.Messages):
		writeError(w, invalid("prompt", "give prompt or messages, not both"))
		return
	case req.Prompt != nil:
		if e := m.tooLongToTokenize(len(*req.Prompt), "prompt"); e != nil {
			writeError(w, e)
			return
		}
		ids = m.Tokenizer.Encode(*req.Prompt, req.AddSpecialTokens == nil || *req.AddSpecialTokens)
	case !isNull(req.Messages):
		cr := chatRequest{Messages: req.Messages, Tools: req.Tools, AddGenerationPrompt: req.AddGenerationPrompt,
			ContinueFinalMessage: req.ContinueFinalMessage, ChatTemplateKwargs: req.ChatTemplateKwargs}
		cp, e := s.renderChat(m, &cr)
		if e != nil {
			writeError(w, e)
			return
		}
		ids = cp.ids
	default:
		writeError(w, invalid("prompt", "prompt or messages is required"))
		return
	}
	out := tokenizeResponse{Count: len(ids), MaxModelLen: m.Engine.MaxModelLen(), Tokens: ids}
	if out.Tokens == nil {
		out.Tokens = []int32{}
	}
	if req.ReturnTokenStrs {
		strs := make([]string, len(ids))
		for i, id := range ids {
			strs[i], _ = m.Tokenizer.TokenString(id)
		}
		out.TokenStrs = &strs
	}
	writeJSON(w, http.StatusOK, out)
}

// detokenize answers POST /detokenize: the text of token ids.
func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) {
	var req detokenizeRequest
	m, e := s.tokenModel(r, &req, &req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	if req.Tokens == nil {
		writeError(w, invalid("tokens", "tokens is required"))
		return
	}
	vocab := m.Tokenizer.VocabSize()
	for i, id := range req.Tokens {
		if id < 0 || int(id) >= vocab {
			writeError(w, invalid("tokens", "tokens[%d] = %d: not in the vocabulary [0, %d)", i, id, vocab))
			return
		}
	}
	writeJSON(w, http.StatusOK, detokenizeResponse{Prompt: m.Tokenizer.Decode(req.Tokens, false)})
}
