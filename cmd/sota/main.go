// Command sota is the sota inference engine: it generates text with a model on
// the CPU (and, later, serves it). Flags are parsed once into typed configs;
// every flag has a SOTA_* environment fallback.
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
	LogLevel  slog.Level `help:"Log level: debug, info, warn, error." default:"info" env:"SOTA_LOG_LEVEL"`
	LogFormat string     `help:"Log format: text (key=value) or json (one object per line)." enum:"text,json" default:"text" env:"SOTA_LOG_FORMAT"`

	Serve    serveCmd    `cmd:"" help:"Serve the OpenAI-compatible HTTP API (default: the built-in demo model on 127.0.0.1:8080)."`
	Generate generateCmd `cmd:"" help:"Generate text from a prompt (default: the built-in demo model on the CPU)."`
	Tokenize tokenizeCmd `cmd:"" help:"Tokenize JSON-string lines from stdin (--decode: ids to text, --chat: render chat messages)."`
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
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
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "sota: %v (see 'sota --help')\n", err)
		return 2
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel})
	if c.LogFormat == "json" {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel})
	}
	logger := slog.New(handler)
	if err := kctx.Run(&runContext{ctx: ctx, logger: logger, stdout: stdout, stderr: stderr}); err != nil {
		fmt.Fprintln(stderr, "sota:", err)
		return 1
	}
	return 0
}
