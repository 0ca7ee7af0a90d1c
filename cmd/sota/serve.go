package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/tokenizer"
)

type serveCmd struct {
	ModelArg        string   `arg:"" optional:"" name:"model" help:"Model to serve, as vllm serve takes it: a Hugging Face folder, or ORG/NAME from the local Hugging Face cache (same as --model)." placeholder:"DIR|ORG/NAME"`
	Models          []string `name:"model" help:"Model folder, or NAME=DIR; repeat to serve several (routed by the request's model field). Default: the built-in demo model." env:"SOTA_MODEL" placeholder:"[NAME=]DIR" sep:"none"`
	ServedModelName []string `help:"Names a single --model is served under (the first is its id)." env:"SOTA_SERVED_MODEL_NAME"`
	Tokenizer       string   `help:"Folder holding the tokenizer, when it is not the model folder (single model)." env:"SOTA_TOKENIZER" placeholder:"DIR"`
	ChatTemplate    string   `help:"Chat template for models that have none: a file, or the template text." env:"SOTA_CHAT_TEMPLATE" placeholder:"FILE|TEXT"`
	ToolCallParser  string   `help:"Tool-call format of the model's output: auto (from the tokenizer's tokens), none, hermes, llama3_json or mistral." enum:"auto,none,hermes,llama3_json,mistral" default:"auto" env:"SOTA_TOOL_CALL_PARSER"`
	ReasoningParser string   `help:"Split the model's reasoning into reasoning_content: qwen3 (<think>…</think> at the start) or deepseek_r1 (the prompt opens <think>); none leaves the output whole." enum:"none,qwen3,deepseek_r1" default:"none" env:"SOTA_REASONING_PARSER"`
	RandomWeights   bool     `help:"Build the models from their config.json with deterministic random weights." env:"SOTA_RANDOM_WEIGHTS"`
	WeightsSeed     uint64   `help:"Seed of --random-weights." default:"0" env:"SOTA_WEIGHTS_SEED"`
	Threads         int      `help:"CPU threads (0 = all cores)." default:"0" env:"SOTA_THREADS"`
	MaxModelLen     int      `help:"Longest context in tokens (0 = the model's, lowered to what the KV cache holds)." default:"0" env:"SOTA_MAX_MODEL_LEN"`

	Host         string        `help:"Address to listen on." default:"127.0.0.1" env:"SOTA_HOST"`
	Port         int           `help:"Port to listen on (0 = any free port)." default:"8080" env:"SOTA_PORT"`
	PprofAddr    string        `name:"pprof-addr" help:"Serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; unset: off." env:"SOTA_PPROF_ADDR" placeholder:"HOST:PORT"`
	DrainTimeout time.Duration `help:"On SIGTERM, how long running requests may take to finish before the server exits." default:"30s" env:"SOTA_DRAIN_TIMEOUT"`

	TLSCert string `name:"tls-cert" help:"Serve HTTPS (TLS 1.3 at least, HTTP/2 on) with this certificate (PEM); needs --tls-key." env:"SOTA_TLS_CERT" type:"path" placeholder:"FILE"`
	TLSKey  string `name:"tls-key" help:"The private key (PEM) of --tls-cert." env:"SOTA_TLS_KEY" type:"path" placeholder:"FILE"`

	Backend       string        `help:"model: run the models; fake: a scripted backend with no model math (and no weights: a folder with config.json and a tokenizer is enough), for load and admission tests." enum:"model,fake" default:"model" env:"SOTA_BACKEND"`
	FakeStepDelay time.Duration `help:"With --backend fake: the time each engine step takes." default:"0s" env:"SOTA_FAKE_STEP_DELAY"`

	deviceFlags  `embed:""`
	engineFlags  `embed:""`
	tenancyFlags `embed:""`
	jobsFlags    `embed:""`
	grpcFlags    `embed:""`
	observeFlags `embed:""`
	compatFlags  `embed:""`
	limitsFlags  `embed:""`
	apisFlags    `embed:""`

	obs *observability
}

// demoChatTemplate lets the built-in story model take chat requests: the
// messages' contents, one per line, after BOS (it was trained on plain text).
const demoChatTemplate = "{{ bos_token }}{% for message in messages %}{{ message['content'] }}\n{% endfor %}"

// served is one loaded model with what must be closed after the server.
type served struct {
	m   *openai.Model
	eng *engine.Engine
	be  backend.Backend
}

func (c *serveCmd) Run(rc *runContext) error {
	if err := c.positionalModel(); err != nil {
		return err
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("--port %d: must be in [0, 65535]", c.Port)
	}
	if len(c.Models) > 1 && (len(c.ServedModelName) > 0 || c.Tokenizer != "") {
		return errors.New("--served-model-name and --tokenizer apply to a single --model; name several with NAME=DIR")
	}
	if c.Backend != "fake" && c.FakeStepDelay != 0 {
		return errors.New("--fake-step-delay needs --backend fake")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.PprofAddr != "" {
		stopProfiler, err := servePprof(c.PprofAddr, rc)
		if err != nil {
			return err
		}
		defer stopProfiler()
	}
	ten, err := c.tenancyFlags.setup(rc.ctx, rc, c.Host)
	if err != nil {
		return err
	}
	defer ten.close()
	if c.obs, err = c.observeFlags.setup(rc); err != nil {
		return err
	}
	defer c.obs.close()
	c.engineFlags.maxWaiting = c.limitsFlags.maxWaiting(c.MaxNumSeqs)
	if ten.mode == "keys" {
		c.autoPolicy = "fair" // tenants share the engine by tokens served, weighted by tier
	}
	var tlsConfig *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	// Serve at once: /health answers 503 until the models are loaded.
	var handler atomic.Pointer[http.Handler]
	loading := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"error":{"message":"server is loading","type":"service_unavailable","param":null,"code":null}}`)
	}))
	handler.Store(&loading)
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(rc.logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
	serveErr := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			serveErr <- hs.ServeTLS(ln, "", "")
			return
		}
		serveErr <- hs.Serve(ln)
	}()

	models, err := c.load(rc)
	defer func() {
		for _, s := range models {
			s.eng.Close()
			s.be.Close()
		}
	}()
	if err != nil {
		hs.Close()
		return err
	}
	api := make([]*openai.Model, len(models))
	for i, s := range models {
		api[i] = s.m
	}
	maxBody, err := c.limitsFlags.maxBodyBytes()
	if err != nil {
		hs.Close()
		return err
	}
	srv, err := openai.New(openai.Config{
		Models:                 api,
		Logger:                 rc.logger,
		Version:                version,
		MaxBodyBytes:           maxBody,
		AllowedHosts:           c.limitsFlags.allowedHosts(c.Host),
		BodyReadTimeout:        c.BodyReadTimeout,
		MaxSequencesPerRequest: c.MaxSequencesPerRequest,
		Auth:                   ten.auth,
		Admission:              ten.admission,
		Usage:                  ten.usage,
		UsageReader:            ten.usageDB,
		Idempotency:            ten.idem,
		StreamStallTimeout:     c.StreamStallTimeout,
		Observe:                c.obs.server(ten.admission),
	})
	if err != nil {
		hs.Close()
		return err
	}
	h := srv.Handler()
	jobsAPI, err := c.jobsFlags.setup(rc, ten, srv)
	if err != nil {
		hs.Close()
		return err
	}
	defer jobsAPI.close()
	h = jobsAPI.handler(h)
	grpcAPI, err := c.grpcFlags.start(rc, c.Host, tlsConfig, ten, srv, api, c.DrainTimeout)
	if err != nil {
		hs.Close()
		return err
	}
	defer grpcAPI.close() // after a drain: waits for its streams (up to --drain-timeout)
	if h, err = c.apisFlags.mount(rc, ten, srv, maxBody, h); err != nil {
		hs.Close()
		return err
	}
	if ten.admin != nil {
		mux := http.NewServeMux()
		mux.Handle("/admin/", ten.admin)
		mux.Handle("/", h)
		h = mux
	}
	h = c.obs.mount(h)
	handler.Store(&h)
	names := make([]string, len(api))
	for i, m := range api {
		names[i] = m.Name
	}
	rc.logger.Info("serving", "url", scheme+"://"+ln.Addr().String(), "models", strings.Join(names, ","), "auth", ten.mode, "version", version)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-rc.ctx.Done():
	}
	// Drain: refuse new requests (503), let running ones finish.
	rc.logger.Info("draining", "timeout", c.DrainTimeout)
	jobsAPI.close() // running jobs stop here and run again at the next start
	srv.Drain()
	cut := 0
	drained := make(chan struct{})
	go func() { srv.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(c.DrainTimeout):
		// Streams still running get an error event and [DONE], then go.
		cut = srv.Cut()
		rc.logger.Warn("drain timeout: cut the requests still running", "requests", cut)
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
	}
	rc.logger.Info("stopped")
	if cut > 0 {
		return fmt.Errorf("drain timeout %v: %d requests were cut", c.DrainTimeout, cut)
	}
	return nil
}

// load builds every model's backend and engine.
func (c *serveCmd) load(rc *runContext) ([]served, error) {
	specs := c.Models
	if len(specs) == 0 {
		specs = []string{""}
	}
	var out []served
	for _, spec := range specs {
		name, dir := "", spec
		if n, d, ok := strings.Cut(spec, "="); ok && !strings.ContainsAny(n, `/\`) {
			name, dir = n, d
		}
		s, err := c.loadOne(rc, name, dir)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *serveCmd) loadOne(rc *runContext, name, dir string) (served, error) {
	var s served
	src := modelSource{Dir: dir, TokenizerDir: c.Tokenizer, RandomWeights: c.RandomWeights, WeightsSeed: c.WeightsSeed,
		MetaOnly: c.Backend == "fake" && !c.RandomWeights}
	l, err := src.load(rc.logger)
	if err != nil {
		return s, err
	}
	defer l.m.Close()
	if l.tok == nil {
		return s, fmt.Errorf("model %s has no tokenizer: the HTTP API needs one (give --tokenizer DIR)", l.name)
	}
	if name == "" {
		name = l.name
		if len(c.ServedModelName) > 0 {
			name = c.ServedModelName[0]
		}
	}
	tmpl, err := c.template(l, src)
	if err != nil {
		return s, fmt.Errorf("model %s: %w", name, err)
	}
	parser, err := c.toolParser(l.tok)
	if err != nil {
		return s, err
	}
	reasoning := openai.ReasoningNone
	if c.ReasoningParser != "none" {
		if reasoning, err = openai.ParseReasoningParser(c.ReasoningParser); err != nil {
			return s, err
		}
	}
	if c.Backend == "fake" {
		be := fake.New(backend.Geometry{BlockSize: c.BlockSize, NumBlocks: max(c.NumKVBlocks, 4096),
			MaxBatchTokens: c.MaxNumBatchedTokens, MaxSeqs: c.MaxNumSeqs,
			MaxModelLen: l.m.Config.MaxPositionEmbeddings, VocabSize: l.m.Config.VocabSize})
		be.StepDelay = c.FakeStepDelay
		s.be = be
	} else {
		opts, err := c.cpuOptions(c.Threads, c.MaxModelLen)
		if err != nil {
			return s, err
		}
		if s.be, err = newBackend(rc.ctx, l, src, c.deviceFlags, opts, rc.logger, rc.stderr); err != nil {
			return s, err
		}
	}
	g := s.be.Geometry()
	if c.observer, err = c.obs.engineObserver(name, g.BlockSize, g.NumBlocks-1); err != nil {
		s.be.Close()
		s.be = nil
		return s, err
	}
	if s.eng, err = c.newEngine(s.be, stopTokenIDs(src, l), c.MaxModelLen, rc.logger); err != nil {
		s.be.Close()
		s.be = nil
		return s, err
	}
	c.obs.started(name, s.eng)
	aliases := []string(nil)
	if len(c.ServedModelName) > 1 {
		aliases = c.ServedModelName[1:]
	}
	s.m = &openai.Model{Name: name, Aliases: aliases, Engine: s.eng, Tokenizer: l.tok, Template: tmpl,
		ToolParser: parser, ReasoningParser: reasoning, Defaults: requestDefaults(l), Backend: c.Device}
	if c.Backend == "fake" {
		s.m.Backend = "fake"
	}
	logModelReady(rc.logger, append(modelSummary(name, src, l, s.be, s.eng, c.Device),
		"chat", tmpl != nil, "tool_call_parser", string(parser))...)
	return s, nil
}

// template finds the model's chat template: --chat-template, the folder's
// own, or for the built-in model a plain one.
func (c *serveCmd) template(l *loaded, src modelSource) (*tokenizer.Template, error) {
	if c.ChatTemplate != "" {
		text := c.ChatTemplate
		if data, err := os.ReadFile(c.ChatTemplate); err == nil {
			text = string(data)
		}
		return tokenizer.NewTemplate(map[string]string{"default": text}, specialVars(l.tok))
	}
	var t *tokenizer.Template
	var err error
	switch {
	case src.TokenizerDir != "":
		t, err = tokenizer.LoadTemplate(src.TokenizerDir)
	case src.Dir == "":
		t, err = tokenizer.LoadTemplateFS(demo.FS())
		if errors.Is(err, tokenizer.ErrNoChatTemplate) {
			return tokenizer.NewTemplate(map[string]string{"default": demoChatTemplate}, specialVars(l.tok))
		}
	default:
		dir := src.Dir
		if fi, serr := os.Stat(dir); serr == nil && !fi.IsDir() {
			dir = filepath.Dir(dir)
		}
		t, err = tokenizer.LoadTemplate(dir)
	}
	if errors.Is(err, tokenizer.ErrNoChatTemplate) {
		return nil, nil // completions only; chat requests get a clear 400
	}
	return t, err
}

// specialVars are bos_token and eos_token for a template of our own.
func specialVars(tok *tokenizer.Tokenizer) map[string]any {
	vars := map[string]any{}
	if id, ok := tok.BOS(); ok {
		if s, ok := tok.TokenString(id); ok {
			vars["bos_token"] = s
		}
	}
	if eos := tok.EOS(); len(eos) > 0 {
		if s, ok := tok.TokenString(eos[0]); ok {
			vars["eos_token"] = s
		}
	}
	return vars
}

// toolParser resolves --tool-call-parser; auto looks for each format's
// marker token in the vocabulary.
func (c *serveCmd) toolParser(tok *tokenizer.Tokenizer) (openai.ToolParser, error) {
	switch c.ToolCallParser {
	case "none":
		return openai.ToolParserNone, nil
	case "auto":
		for _, p := range []struct {
			token  string
			parser openai.ToolParser
		}{{"<tool_call>", openai.ToolParserHermes}, {"[TOOL_CALLS]", openai.ToolParserMistral}, {"<|python_tag|>", openai.ToolParserLlama3}} {
			if _, ok := tok.TokenID(p.token); ok {
				return p.parser, nil
			}
		}
		return openai.ToolParserNone, nil
	}
	return openai.ParseToolParser(c.ToolCallParser)
}

// requestDefaults are the sampling parameters a request starts from:
// OpenAI's, with the fields the model's generation_config.json sets (as
// vLLM does).
func requestDefaults(l *loaded) sample.Params {
	p := sample.Defaults()
	g := l.m.Generation
	if g.Temperature != nil {
		p.Temperature = float32(*g.Temperature)
	}
	if g.TopP != nil {
		p.TopP = float32(*g.TopP)
	}
	if g.TopK != nil {
		p.TopK = *g.TopK
	}
	if g.RepetitionPenalty != nil {
		p.RepetitionPenalty = float32(*g.RepetitionPenalty)
	}
	return p
}
