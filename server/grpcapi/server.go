package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/sotasystems/sota/admission"
	sotav1 "github.com/sotasystems/sota/proto/sota/v1"
	"github.com/sotasystems/sota/tokenizer"
)

// Generator runs one generation through the HTTP API's request path.
type Generator interface {
	// Generate runs c; cancelling ctx aborts it. Deltas arrive through
	// c.Deltas as they are generated; the reply is the HTTP API's
	// non-streamed answer (or its error).
	Generate(ctx context.Context, c Call) Reply
}

// Call is one generation for a Generator.
type Call struct {
	Principal admission.Principal
	Chat      bool   // chat messages (/v1/chat/completions), else /v1/completions
	Body      []byte // the OpenAI request body (JSON, not streamed)
	RequestID string
	Class     admission.Class
	Deltas    func(Delta) // from one goroutine at a time
}

// Delta is one piece of one choice's output.
type Delta struct {
	Choice   int
	Text     string
	TokenIDs []int32
	Logprobs []*sotav1.TokenLogprob
	Finish   string
}

// Reply is the HTTP API's answer: its status and JSON body.
type Reply struct {
	Status int
	Body   []byte
}

// Model is one served model name (an alias is a Model of its own whose
// Root is the model it names).
type Model struct {
	ID          string
	Root        string
	OwnedBy     string
	Created     time.Time
	MaxModelLen int
	Tokenizer   *tokenizer.Tokenizer
}

// Config sets up a Server.
type Config struct {
	Generator Generator
	Models    []Model
	// Auth resolves API keys; nil is open mode: every RPC runs as
	// OpenPrincipal (whose zero Tier is admission.OpenTier(), tenant
	// "default", as HTTP's).
	Auth          admission.Authenticator
	OpenPrincipal admission.Principal
	Logger        *slog.Logger // default slog.Default()
}

// Server implements sota.v1.InferenceService.
type Server struct {
	sotav1.UnimplementedInferenceServiceServer

	cfg      Config
	byName   map[string]*Model
	health   *health.Server
	draining atomic.Bool

	mu      sync.Mutex
	running map[runKey]context.CancelCauseFunc // Generate RPCs by tenant and request id
}

type runKey struct{ tenant, id string }

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Generator == nil {
		return nil, errors.New("grpcapi: no generator")
	}
	if len(cfg.Models) == 0 {
		return nil, errors.New("grpcapi: no models")
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
	s := &Server{cfg: cfg, byName: map[string]*Model{}, health: health.NewServer(), running: map[runKey]context.CancelCauseFunc{}}
	for i := range cfg.Models {
		m := &s.cfg.Models[i]
		if m.ID == "" || m.Tokenizer == nil {
			return nil, errors.New("grpcapi: a model without an id or a tokenizer")
		}
		if m.Root == "" {
			m.Root = m.ID
		}
		if _, dup := s.byName[m.ID]; dup {
			return nil, errors.New("grpcapi: model " + m.ID + " served twice")
		}
		s.byName[m.ID] = m
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(sotav1.InferenceService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s, nil
}

// Register adds the inference service, grpc.health.v1 and server
// reflection to g.
func (s *Server) Register(g *grpc.Server) {
	sotav1.RegisterInferenceServiceServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
}

// Drain refuses new RPCs (UNAVAILABLE) and reports NOT_SERVING; running
// ones go on (grpc.Server.GracefulStop waits for them).
func (s *Server) Drain() {
	s.draining.Store(true)
	s.health.Shutdown()
}

// enter admits an RPC: not draining, and its caller's principal.
func (s *Server) enter(ctx context.Context) (admission.Principal, error) {
	if s.draining.Load() {
		return admission.Principal{}, withInfo(codes.Unavailable, "service_unavailable", "server is shutting down")
	}
	if s.cfg.Auth == nil {
		return s.cfg.OpenPrincipal, nil
	}
	var header string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			header = v[0]
		}
	}
	key, err := admission.ParseBearer(header)
	if err == nil {
		var p admission.Principal
		if p, err = s.cfg.Auth.Authenticate(ctx, key); err == nil {
			return p, nil
		}
	}
	if errors.Is(err, admission.ErrUnauthorized) {
		return admission.Principal{}, withInfo(codes.Unauthenticated, "invalid_api_key", err.Error())
	}
	s.cfg.Logger.Error("grpc: authentication failed", "err", err)
	return admission.Principal{}, withInfo(codes.Unavailable, "service_unavailable", "authentication is unavailable; try again")
}

// model finds the model a request names, checking the caller's tier.
func (s *Server) model(p admission.Principal, name string) (*Model, error) {
	var m *Model
	if name == "" {
		if len(s.cfg.Models) != 1 {
			return nil, withInfo(codes.InvalidArgument, "invalid_request_error", "model is required: this server serves several")
		}
		m = &s.cfg.Models[0]
	} else if m = s.byName[name]; m == nil {
		return nil, withInfo(codes.NotFound, "model_not_found", "the model "+quote(name)+" does not exist")
	}
	if !p.Tier.AllowsModel(m.ID) && !p.Tier.AllowsModel(m.Root) {
		return nil, withInfo(codes.PermissionDenied, "permission_denied", "the model "+quote(m.ID)+" is not in your tier ("+p.Tier.Name+")")
	}
	return m, nil
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// withInfo is a status with an ErrorInfo detail whose reason is typ.
func withInfo(c codes.Code, typ, msg string) error {
	st := status.New(c, msg)
	if d, err := st.WithDetails(errorInfo(typ, "")); err == nil {
		st = d
	}
	return st.Err()
}
