package main

import (
	"context"
	"net/http"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/server/anthropic"
	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/server/responses"
)

// mountAPIs serves the other API shapes beside the OpenAI one, over its
// handlers (and so its admission, engine and usage) and behind its guard:
// the Anthropic Messages API and the OpenAI Responses API (its responses
// stored in the database when serve has one, else in memory).
func mountAPIs(rc *runContext, ten *tenancySetup, srv *openai.Server, maxBody int64, next http.Handler) (http.Handler, error) {
	mux := http.NewServeMux()
	ant, err := anthropic.New(anthropic.Config{Generator: chatGenerator{srv}, Auth: ten.auth, MaxBodyBytes: maxBody, Logger: rc.logger})
	if err != nil {
		return nil, err
	}
	am := http.NewServeMux()
	ant.Mount(am)
	mux.Handle("POST /v1/messages", srv.Guard(am, anthropic.WriteError))
	rcfg := responses.Config{Generator: responsesGenerator{srv}, Auth: ten.auth, MaxBodyBytes: maxBody, Logger: rc.logger}
	if ten.db != nil {
		rcfg.Store = ten.db
	}
	resp, err := responses.New(rcfg)
	if err != nil {
		return nil, err
	}
	rm := http.NewServeMux()
	resp.Mount(rm)
	mux.Handle("/v1/responses", srv.Guard(rm, responses.WriteError))
	mux.Handle("/v1/responses/", srv.Guard(rm, responses.WriteError))
	mux.Handle("/", next)
	return mux, nil
}

// chatGenerator runs chat completions requests through the OpenAI
// server's handlers, for the Anthropic API.
type chatGenerator struct{ srv *openai.Server }

func (g chatGenerator) Chat(ctx context.Context, c anthropic.Call) anthropic.Reply {
	r := runChat(ctx, g.srv, c.Principal, c.Class, c.Body, c.RequestID, c.Progress)
	return anthropic.Reply{Status: r.Status, Header: r.Header, Body: r.Body}
}

// responsesGenerator is chatGenerator for the Responses API.
type responsesGenerator struct{ srv *openai.Server }

func (g responsesGenerator) Chat(ctx context.Context, c responses.Call) responses.Reply {
	r := runChat(ctx, g.srv, c.Principal, c.Class, c.Body, c.RequestID, c.Progress)
	return responses.Reply{Status: r.Status, Header: r.Header, Body: r.Body}
}

// runChat runs one chat completions body; progress gets the first
// choice's text as it comes.
func runChat(ctx context.Context, srv *openai.Server, p admission.Principal, class admission.Class, body []byte, reqID string,
	progress func(string)) openai.Reply {
	call := openai.Call{Principal: p, Endpoint: openai.EndpointChat, Body: body, RequestID: reqID, Class: class}
	if progress != nil {
		call.Progress = func(choice int, text string) {
			if choice == 0 {
				progress(text)
			}
		}
	}
	return srv.Do(ctx, call)
}
