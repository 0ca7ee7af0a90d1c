// Command sota is the sota inference engine: it serves a model over
// OpenAI-compatible HTTP (serve) and generates text from prompts (generate).
// Flags are parsed once into typed configs; every flag has a SOTA_*
// environment fallback. Bare `sota` prints the help; the first SIGINT or
// SIGTERM stops (serve drains), a second exits at once.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type cli struct {
	ShowVersion kong.VersionFlag `name:"version" help:"Print the version and exit."`
	LogLevel    slog.Level       `help:"Log level: debug, info, warn, error." default:"info" env:"SOTA_LOG_LEVEL"`
	LogFormat   string           `help:"Log format: text (key=value) or json (one object per line)." enum:"text,json" default:"text" env:"SOTA_LOG_FORMAT"`

	Serve    serveCmd    `cmd:"" help:"Serve the OpenAI-compatible HTTP API (default: the built-in demo model on 127.0.0.1:8080)."`
	Generate generateCmd `cmd:"" help:"Generate text from a prompt (default: the built-in demo model on the CPU)."`
	Tokenize tokenizeCmd `cmd:"" help:"Tokenize text: the arguments, else stdin's lines (plain, or JSON strings); --decode: ids to text; --chat: render messages as serve does."`
	Keys     keysCmd     `cmd:"" help:"Create, list and revoke API keys."`
	Tenants  tenantsCmd  `cmd:"" help:"Set and list tenants: their tiers and stream caps."`
	Usage    usageCmd    `cmd:"" help:"Per-tenant usage: requests by status, tokens, queue time and time to first token."`
	Version  versionCmd  `cmd:"" help:"Print the version."`
}

type versionCmd struct{}

func (versionCmd) Run(rc *runContext) error {
	fmt.Fprintln(rc.stdout, "sota", version)
	return nil
}

// runContext is what every subcommand's Run receives.
type runContext struct {
	ctx            context.Context
	logger         *slog.Logger
	stdout, stderr io.Writer
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx (serve drains); a second exits at once.
	ctx, stop := watchSignals(context.Background(), sigs, os.Stderr, os.Exit)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	signal.Stop(sigs)
	os.Exit(code)
}

// exitRequest carries kong's exit code (after --help) out of the parser.
type exitRequest int

// run parses args once into the typed config and runs the subcommand; it
// returns the process exit code (2 for usage errors, 1 for failures).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("sota"),
		kong.Description("sota: an LLM inference engine. Run 'sota generate' to tell a story with the built-in model."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest(code)) }),
		kong.TypeMapper(reflectLevel, levelMapper()),
		kong.Vars{"version": "sota " + version},
	)
	if err != nil {
		fmt.Fprintln(stderr, "sota:", err)
		return 2
	}
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = int(req)
		}
	}()
	if len(args) == 0 {
		args = []string{"--help"} // bare `sota` prints the help and exits 0, as vllm does
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "sota: %v (see '%s --help')\n", err, helpCommand(err))
		return 2
	}
	expandPathFlags(kctx)
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel})
	if c.LogFormat == "json" {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel})
	}
	logger := slog.New(handler)
	signalLogger.Store(logger)
	if err := kctx.Run(&runContext{ctx: ctx, logger: logger, stdout: stdout, stderr: stderr}); err != nil {
		fmt.Fprintln(stderr, "sota:", err)
		return 1
	}
	return 0
}
