package grpcapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sotasystems/sota/admission"
	sotav1 "github.com/sotasystems/sota/proto/sota/v1"
)

// maxRequestIDLen bounds a client's request id (HTTP's X-Request-Id bound).
const maxRequestIDLen = 256

// errAborted is the cause of a Generate that Abort ended.
var errAborted = errors.New("aborted by request")

// Generate streams one request's deltas, then a last message with usage.
func (s *Server) Generate(req *sotav1.GenerateRequest, stream grpc.ServerStreamingServer[sotav1.GenerateResponse]) error {
	ctx := stream.Context()
	p, err := s.enter(ctx)
	if err != nil {
		return err
	}
	class := p.DefaultClass()
	if req.GetPriority() != "" {
		if class, err = admission.ParseClass(req.GetPriority()); err != nil {
			return withInfo(codes.InvalidArgument, "invalid_request_error", err.Error())
		}
	}
	body, chat, err := openAIBody(req)
	if err != nil {
		return err
	}
	id := req.GetRequestId()
	switch {
	case id == "":
		id = newID()
	case len(id) > maxRequestIDLen:
		return withInfo(codes.InvalidArgument, "invalid_request_error", "request_id is longer than "+strconv.Itoa(maxRequestIDLen)+" bytes")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	key := runKey{p.Tenant, id}
	if !s.track(key, cancel) {
		return withInfo(codes.AlreadyExists, "invalid_request_error", "request_id "+quote(id)+" is already running")
	}
	defer s.untrack(key)
	if err := stream.SendHeader(metadata.Pairs("x-request-id", id)); err != nil {
		return err
	}
	var sendErr error
	reply := s.cfg.Generator.Generate(ctx, Call{Principal: p, Chat: chat, Body: body, RequestID: id, Class: class,
		Deltas: func(d Delta) {
			if sendErr != nil {
				return
			}
			if sendErr = stream.Send(&sotav1.GenerateResponse{RequestId: id, Index: int32(d.Choice), Text: d.Text,
				TokenIds: d.TokenIDs, Logprobs: d.Logprobs, FinishReason: d.Finish}); sendErr != nil {
				cancel(sendErr) // the client is gone: abort the sequences
			}
		}})
	if sendErr != nil {
		return sendErr
	}
	if reply.Status != http.StatusOK {
		switch {
		case context.Cause(ctx) == errAborted:
			return status.Error(codes.Canceled, "aborted by request")
		case ctx.Err() != nil:
			// The client's deadline or cancel (the handler may report a
			// deadline as an internal error: HTTP requests have none).
			return status.FromContextError(ctx.Err()).Err()
		}
		return replyError(reply)
	}
	var out struct {
		Usage struct {
			PromptTokens        int32 `json:"prompt_tokens"`
			CompletionTokens    int32 `json:"completion_tokens"`
			TotalTokens         int32 `json:"total_tokens"`
			PromptTokensDetails *struct {
				CachedTokens int32 `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(reply.Body, &out); err != nil {
		return status.Error(codes.Internal, "unreadable reply: "+err.Error())
	}
	u := &sotav1.Usage{PromptTokens: out.Usage.PromptTokens, CompletionTokens: out.Usage.CompletionTokens, TotalTokens: out.Usage.TotalTokens}
	if d := out.Usage.PromptTokensDetails; d != nil {
		u.CachedTokens = d.CachedTokens
	}
	return stream.Send(&sotav1.GenerateResponse{RequestId: id, Usage: u})
}

// Abort ends a running Generate of the caller's tenant.
func (s *Server) Abort(ctx context.Context, req *sotav1.AbortRequest) (*sotav1.AbortResponse, error) {
	p, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	cancel := s.running[runKey{p.Tenant, req.GetRequestId()}]
	s.mu.Unlock()
	if cancel == nil {
		return nil, withInfo(codes.NotFound, "not_found", "no running request "+quote(req.GetRequestId()))
	}
	cancel(errAborted)
	return &sotav1.AbortResponse{}, nil
}

// track registers a running Generate; false when its id is taken.
func (s *Server) track(k runKey, cancel context.CancelCauseFunc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.running[k]; dup {
		return false
	}
	s.running[k] = cancel
	return true
}

func (s *Server) untrack(k runKey) {
	s.mu.Lock()
	delete(s.running, k)
	s.mu.Unlock()
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "grpc-" + hex.EncodeToString(b[:])
}

// openAIBody is the OpenAI request body of req (chat when it has
// messages): the HTTP API validates it, so both APIs accept the same.
func openAIBody(req *sotav1.GenerateRequest) ([]byte, bool, error) {
	b := map[string]any{}
	if req.GetModel() != "" {
		b["model"] = req.GetModel()
	}
	if req.GetUser() != "" {
		b["user"] = req.GetUser()
	}
	chat := false
	switch in := req.GetInput().(type) {
	case *sotav1.GenerateRequest_Prompt:
		b["prompt"] = in.Prompt
	case *sotav1.GenerateRequest_TokenIds:
		ids := in.TokenIds.GetIds()
		if ids == nil {
			ids = []int32{}
		}
		b["prompt"] = ids
	case *sotav1.GenerateRequest_Messages:
		chat = true
		msgs := make([]map[string]string, 0, len(in.Messages.GetMessages()))
		for _, m := range in.Messages.GetMessages() {
			msg := map[string]string{"role": m.GetRole(), "content": m.GetContent()}
			if m.GetName() != "" {
				msg["name"] = m.GetName()
			}
			msgs = append(msgs, msg)
		}
		b["messages"] = msgs
	default:
		return nil, false, withInfo(codes.InvalidArgument, "invalid_request_error", "input is required: a prompt, token_ids or messages")
	}
	sp := req.GetSampling()
	if sp == nil {
		sp = &sotav1.SamplingParams{}
	}
	set := func(name string, v any, ok bool) {
		if ok {
			b[name] = v
		}
	}
	set("max_tokens", sp.GetMaxTokens(), sp.MaxTokens != nil)
	set("temperature", sp.GetTemperature(), sp.Temperature != nil)
	set("top_p", sp.GetTopP(), sp.TopP != nil)
	set("top_k", sp.GetTopK(), sp.TopK != nil)
	set("min_p", sp.GetMinP(), sp.MinP != nil)
	set("presence_penalty", sp.GetPresencePenalty(), sp.PresencePenalty != nil)
	set("frequency_penalty", sp.GetFrequencyPenalty(), sp.FrequencyPenalty != nil)
	set("repetition_penalty", sp.GetRepetitionPenalty(), sp.RepetitionPenalty != nil)
	set("seed", sp.GetSeed(), sp.Seed != nil)
	set("stop", sp.GetStop(), len(sp.GetStop()) > 0)
	set("stop_token_ids", sp.GetStopTokenIds(), len(sp.GetStopTokenIds()) > 0)
	set("n", sp.GetN(), sp.N != nil)
	set("ignore_eos", true, sp.GetIgnoreEos())
	set("skip_special_tokens", sp.GetSkipSpecialTokens(), sp.SkipSpecialTokens != nil)
	set("min_tokens", sp.GetMinTokens(), sp.MinTokens != nil)
	if len(sp.GetLogitBias()) > 0 {
		bias := make(map[string]float64, len(sp.GetLogitBias()))
		for id, v := range sp.GetLogitBias() {
			bias[strconv.Itoa(int(id))] = v
		}
		b["logit_bias"] = bias
	}
	if f := sp.GetResponseFormatJson(); f != "" {
		if !json.Valid([]byte(f)) {
			return nil, false, withInfo(codes.InvalidArgument, "invalid_request_error", "response_format_json is not valid JSON")
		}
		b["response_format"] = json.RawMessage(f)
	}
	switch {
	case sp.GetTopLogprobs() != 0 && !sp.GetLogprobs():
		return nil, false, withInfo(codes.InvalidArgument, "invalid_request_error", "top_logprobs needs logprobs")
	case !sp.GetLogprobs():
	case chat:
		b["logprobs"], b["top_logprobs"] = true, sp.GetTopLogprobs()
	default:
		b["logprobs"] = sp.GetTopLogprobs()
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, false, status.Error(codes.Internal, err.Error())
	}
	return body, chat, nil
}
