package main

import (
	"context"
	"net/http"

	"github.com/sotasystems/sota/server/anthropic"
	"github.com/sotasystems/sota/server/openai"
)

// mountAPIs serves the other API shapes beside the OpenAI one, over its
// handlers (and so its admission, engine and usage) and behind its guard:
// the Anthropic Messages API.
func mountAPIs(rc *runContext, ten *tenancySetup, srv *openai.Server, maxBody int64, next http.Handler) (http.Handler, error) {
	mux := http.NewServeMux()
	ant, err := anthropic.New(anthropic.Config{Generator: chatGenerator{srv}, Auth: ten.auth, MaxBodyBytes: maxBody, Logger: rc.logger})
	if err != nil {
		return nil, err
	}
	am := http.NewServeMux()
	ant.Mount(am)
	mux.Handle("POST /v1/messages", srv.Guard(am, anthropic.WriteError))
	mux.Handle("/", next)
	return mux, nil
}

// chatGenerator runs chat completions requests through the OpenAI
// server's handlers, for the other API shapes.
type chatGenerator struct{ srv *openai.Server }

func (g chatGenerator) Chat(ctx context.Context, c anthropic.Call) anthropic.Reply {
	call := openai.Call{Principal: c.Principal, Endpoint: openai.EndpointChat, Body: c.Body, RequestID: c.RequestID, Class: c.Class}
	if c.Progress != nil {
		call.Progress = func(choice int, text string) {
			if choice == 0 {
				c.Progress(text)
			}
		}
	}
	r := g.srv.Do(ctx, call)
	return anthropic.Reply{Status: r.Status, Header: r.Header, Body: r.Body}
}
