package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/server/anthropic"
	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/server/responses"
	"github.com/sotasystems/sota/store"
)

// apisFlags are serve's flags of the other API shapes.
type apisFlags struct {
	ResponseRetention time.Duration `name:"response-retention" help:"How long stored Responses API responses are kept in the database (then purged, hourly)." default:"720h" env:"SOTA_RESPONSE_RETENTION"`
}

// mount serves the other API shapes beside the OpenAI one, over its
// handlers (and so its admission, engine and usage) and behind its guard:
// the Anthropic Messages API and the OpenAI Responses API (its responses
// stored in the database when serve has one, else in memory).
func (f *apisFlags) mount(rc *runContext, ten *tenancySetup, srv *openai.Server, maxBody int64, next http.Handler) (http.Handler, error) {
	if f.ResponseRetention <= 0 {
		return nil, errors.New("--response-retention must be > 0")
	}
	mux := http.NewServeMux()
	ant, err := anthropic.New(anthropic.Config{Generator: chatGenerator{srv}, Auth: ten.auth, MaxBodyBytes: maxBody, Logger: rc.logger})
	if err != nil {
		return nil, err
	}
	am := http.NewServeMux()
	ant.Mount(am)
	mux.Handle("POST /v1/messages", srv.Guard(am, anthropic.WriteError))
	mux.Handle("POST /v1/messages/count_tokens", srv.Guard(am, anthropic.WriteError))
	rcfg := responses.Config{Generator: responsesGenerator{srv}, Auth: ten.auth, MaxBodyBytes: maxBody, Logger: rc.logger}
	if ten.db != nil {
		rcfg.Store = ten.db
		db, retention := ten.db, f.ResponseRetention
		ten.goRun(func(ctx context.Context) { purgeResponses(ctx, db, retention, time.Hour, rc.logger) })
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
	if c.CountTokens {
		r := g.srv.Do(ctx, openai.Call{Principal: c.Principal, Endpoint: openai.EndpointTokenize, Body: c.Body, RequestID: c.RequestID,
			Class: c.Class, Observe: "/v1/messages/count_tokens"})
		return anthropic.Reply{Status: r.Status, Header: r.Header, Body: r.Body}
	}
	r := runChat(ctx, g.srv, "/v1/messages", c.Principal, c.Class, c.Body, c.RequestID, c.Progress)
	return anthropic.Reply{Status: r.Status, Header: r.Header, Body: r.Body}
}

// responsesGenerator is chatGenerator for the Responses API.
type responsesGenerator struct{ srv *openai.Server }

func (g responsesGenerator) Chat(ctx context.Context, c responses.Call) responses.Reply {
	r := runChat(ctx, g.srv, "/v1/responses", c.Principal, c.Class, c.Body, c.RequestID, c.Progress)
	return responses.Reply{Status: r.Status, Header: r.Header, Body: r.Body}
}

// runChat runs one chat completions body for the endpoint (its usage and
// metrics are that endpoint's); progress gets the first choice's text as
// it comes.
func runChat(ctx context.Context, srv *openai.Server, endpoint string, p admission.Principal, class admission.Class, body []byte,
	reqID string, progress func(string)) openai.Reply {
	call := openai.Call{Principal: p, Endpoint: openai.EndpointChat, Body: body, RequestID: reqID, Class: class, Observe: endpoint}
	if progress != nil {
		call.Progress = func(choice int, text string) {
			if choice == 0 {
				progress(text)
			}
		}
	}
	return srv.Do(ctx, call)
}

// purgeResponses deletes stored responses older than retention every
// interval until ctx ends.
func purgeResponses(ctx context.Context, db *store.DB, retention, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := db.PurgeResponses(ctx, time.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			log.Warn("purging stored responses", "err", err)
		} else if n > 0 {
			log.Debug("purged stored responses", "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
