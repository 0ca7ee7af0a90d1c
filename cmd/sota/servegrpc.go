package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	sotav1 "github.com/sotasystems/sota/proto/sota/v1"
	"github.com/sotasystems/sota/server/grpcapi"
	"github.com/sotasystems/sota/server/openai"
)

// grpcFlags are serve's gRPC flags.
type grpcFlags struct {
	GRPCPort int `name:"grpc-port" help:"Also serve the gRPC API (sota.v1.InferenceService, grpc.health.v1, reflection) on this port of --host, with --tls-cert when given; 0 = off." default:"0" env:"SOTA_GRPC_PORT"`
}

// grpcServing is the running gRPC listener; nil when off.
type grpcServing struct {
	gs      *grpc.Server
	api     *grpcapi.Server
	ctx     context.Context // serve's: its end drains
	quit    chan struct{}
	drained chan struct{} // closed when the drain (or quit) is done
	served  chan struct{} // closed when Serve returned
	once    sync.Once
}

// start serves the gRPC API over srv (the same request path, keys and
// admission as HTTP) until rc.ctx ends: then it drains (UNAVAILABLE for
// new calls, health NOT_SERVING) for up to drain, and cuts what is left.
func (f *grpcFlags) start(rc *runContext, host string, tlsConfig *tls.Config, ten *tenancySetup, srv *openai.Server,
	models []*openai.Model, drain time.Duration) (*grpcServing, error) {
	if f.GRPCPort == 0 {
		return nil, nil
	}
	if f.GRPCPort < 0 || f.GRPCPort > 65535 {
		return nil, fmt.Errorf("--grpc-port %d: must be in [1, 65535] (0 = off)", f.GRPCPort)
	}
	var ms []grpcapi.Model
	for _, m := range models {
		for _, id := range append([]string{m.Name}, m.Aliases...) {
			ms = append(ms, grpcapi.Model{ID: id, Root: m.Name, OwnedBy: m.OwnedBy, Created: m.Created,
				MaxModelLen: m.Engine.MaxModelLen(), Tokenizer: m.Tokenizer})
		}
	}
	api, err := grpcapi.New(grpcapi.Config{Generator: grpcGenerator{srv}, Models: ms, Auth: ten.auth, Logger: rc.logger})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(f.GRPCPort)))
	if err != nil {
		return nil, fmt.Errorf("--grpc-port: %w", err)
	}
	var opts []grpc.ServerOption
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	g := &grpcServing{gs: grpc.NewServer(opts...), api: api, ctx: rc.ctx, quit: make(chan struct{}),
		drained: make(chan struct{}), served: make(chan struct{})}
	api.Register(g.gs)
	go func() {
		defer close(g.served)
		if err := g.gs.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			rc.logger.Error("grpc: serve", "err", err)
		}
	}()
	go func() {
		defer close(g.drained)
		select {
		case <-rc.ctx.Done():
		case <-g.quit:
			return
		}
		api.Drain()
		stopped := make(chan struct{})
		go func() { g.gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(drain):
			rc.logger.Warn("grpc: drain timeout: cut the calls still running")
			g.gs.Stop()
			<-stopped
		}
	}()
	rc.logger.Info("serving grpc", "addr", ln.Addr().String(), "service", sotav1.InferenceService_ServiceDesc.ServiceName)
	return g, nil
}

// close waits for the drain once serve's context has ended, else stops at
// once; safe on nil and more than once.
func (g *grpcServing) close() {
	if g == nil {
		return
	}
	g.once.Do(func() {
		if g.ctx.Err() == nil {
			close(g.quit)
		}
		<-g.drained
		g.gs.Stop()
		<-g.served
	})
}

// grpcGenerator runs gRPC generations through the OpenAI server's handlers.
type grpcGenerator struct{ srv *openai.Server }

func (g grpcGenerator) Generate(ctx context.Context, c grpcapi.Call) grpcapi.Reply {
	oc := openai.Call{Principal: c.Principal, Endpoint: openai.EndpointCompletions, Body: c.Body, RequestID: c.RequestID, Class: c.Class}
	if c.Chat {
		oc.Endpoint = openai.EndpointChat
	}
	if c.Deltas != nil {
		oc.Deltas = func(d openai.Delta) {
			out := grpcapi.Delta{Choice: d.Choice, Text: d.Text, TokenIDs: d.TokenIDs, Finish: d.Finish}
			if len(d.Logprobs) > 0 {
				out.Logprobs = make([]*sotav1.TokenLogprob, len(d.Logprobs))
				for i, lp := range d.Logprobs {
					l := &sotav1.TokenLogprob{TokenId: lp.TokenID, Token: lp.Token, Logprob: lp.Logprob}
					for _, t := range lp.Top {
						l.Top = append(l.Top, &sotav1.TopLogprob{TokenId: t.TokenID, Token: t.Token, Logprob: t.Logprob})
					}
					out.Logprobs[i] = l
				}
			}
			c.Deltas(out)
		}
	}
	r := g.srv.Do(ctx, oc)
	return grpcapi.Reply{Status: r.Status, Body: r.Body}
}
