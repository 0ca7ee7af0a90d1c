package grpcapi

import (
	"context"

	"google.golang.org/grpc/codes"

	sotav1 "github.com/sotasystems/sota/proto/sota/v1"
)

// maxTokenizeBytes bounds Tokenize's text (the HTTP API's body limit).
const maxTokenizeBytes = 32 << 20

// ListModels lists the models the caller's tier may use.
func (s *Server) ListModels(ctx context.Context, _ *sotav1.ListModelsRequest) (*sotav1.ListModelsResponse, error) {
	p, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	out := &sotav1.ListModelsResponse{}
	for i := range s.cfg.Models {
		m := &s.cfg.Models[i]
		if !p.Tier.AllowsModel(m.ID) && !p.Tier.AllowsModel(m.Root) {
			continue
		}
		owner := m.OwnedBy
		if owner == "" {
			owner = "sota"
		}
		out.Models = append(out.Models, &sotav1.Model{Id: m.ID, Root: m.Root, OwnedBy: owner, Created: m.Created.Unix(),
			MaxModelLen: int32(m.MaxModelLen)})
	}
	return out, nil
}

// Tokenize turns text into token ids.
func (s *Server) Tokenize(ctx context.Context, req *sotav1.TokenizeRequest) (*sotav1.TokenizeResponse, error) {
	p, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.model(p, req.GetModel())
	if err != nil {
		return nil, err
	}
	if len(req.GetText()) > maxTokenizeBytes {
		return nil, withInfo(codes.InvalidArgument, "invalid_request_error", "text is longer than 32 MiB")
	}
	ids := m.Tokenizer.Encode(req.GetText(), req.AddSpecialTokens == nil || req.GetAddSpecialTokens())
	out := &sotav1.TokenizeResponse{TokenIds: ids, MaxModelLen: int32(m.MaxModelLen)}
	if req.GetReturnTokenStrs() {
		out.TokenStrs = make([]string, len(ids))
		for i, id := range ids {
			out.TokenStrs[i] = m.Tokenizer.Decode([]int32{id}, false)
		}
	}
	return out, nil
}

// Detokenize turns token ids into text.
func (s *Server) Detokenize(ctx context.Context, req *sotav1.DetokenizeRequest) (*sotav1.DetokenizeResponse, error) {
	p, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.model(p, req.GetModel())
	if err != nil {
		return nil, err
	}
	vocab := m.Tokenizer.VocabSize()
	for _, id := range req.GetTokenIds() {
		if id < 0 || int(id) >= vocab {
			return nil, withInfo(codes.InvalidArgument, "invalid_request_error", "token id outside the vocabulary")
		}
	}
	skip := req.SkipSpecialTokens == nil || req.GetSkipSpecialTokens()
	return &sotav1.DetokenizeResponse{Text: m.Tokenizer.Decode(req.GetTokenIds(), skip)}, nil
}
