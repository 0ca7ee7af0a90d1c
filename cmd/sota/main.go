// Command sota is the sota inference engine: it generates text with a model on
// the CPU (and, later, serves it). Flags are parsed once into typed configs;
// every flag has a SOTA_* environment fallback.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type cli struct {
	LogLevel slog.Level `help:"Log level: debug, info, warn, error." default:"info" env:"SOTA_LOG_LEVEL"`

	Generate generateCmd `cmd:"" help:"Generate text from a prompt (default: the built-in demo model on the CPU)."`
	Version  versionCmd  `cmd:"" help:"Print the version."`
}

type versionCmd struct{}

func (versionCmd) Run(*runContext) error {
	fmt.Println("sota", version)
	return nil
}

// runContext is what every subcommand's Run receives.
type runContext struct {
	ctx    context.Context
	logger *slog.Logger
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("sota"),
		kong.Description("sota: an LLM inference engine. Run 'sota generate' to tell a story with the built-in model."),
		kong.UsageOnError(),
		kong.TypeMapper(reflectLevel, levelMapper()),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sota:", err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		parser.FatalIfErrorf(err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := kctx.Run(&runContext{ctx: ctx, logger: logger}); err != nil {
		fmt.Fprintln(os.Stderr, "sota:", err)
		return 1
	}
	return 0
}
