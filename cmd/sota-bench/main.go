// Command sota-bench measures any OpenAI-compatible server the way
// `vllm bench serve` does (TTFT, TPOT, ITL, E2E latency, throughput,
// goodput), for several servers side by side in one interleaved run, at a
// Poisson rate, a fixed concurrency or a sweep of either, with several
// tenants (API keys) and their admission outcomes. It prints a table and
// writes a JSON result and PNG charts. Flags use vllm bench serve's names
// where they mean the same.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type exitRequest int

// run parses args once into the typed config and runs the benchmark; it
// returns the exit code: 2 for usage errors, 1 for failures (and, with
// --fail-on-error, for any failed request).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("sota-bench"),
		kong.Description("Benchmark OpenAI-compatible servers (sota, vLLM, llama.cpp, …): latency, throughput, goodput and per-tenant admission, side by side."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest(code)) }),
		kong.TypeMapper(reflect.TypeOf(slog.Level(0)), levelMapper()),
		kong.Vars{"version": version},
	)
	if err != nil {
		fmt.Fprintln(stderr, "sota-bench:", err)
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
	if _, err := parser.Parse(joinNargs(args)); err != nil {
		fmt.Fprintf(stderr, "sota-bench: %v (see 'sota-bench --help')\n", err)
		return 2
	}
	if c.Version {
		fmt.Fprintln(stdout, "sota-bench", version)
		return 0
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	cfg, err := c.config(os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "sota-bench:", err)
		return 2
	}
	cfg.args = append([]string{"sota-bench"}, redactArgs(args)...)
	failed, err := benchmark(ctx, cfg, logger, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sota-bench:", err)
		return 1
	}
	if failed > 0 && c.FailOnError {
		fmt.Fprintf(stderr, "sota-bench: %d requests failed (--fail-on-error)\n", failed)
		return 1
	}
	return 0
}

// nargs are the flags that, as in vllm bench serve, take several values
// after one flag (--goodput ttft:50 tpot:20); they are joined into one
// comma-separated value for the parser.
var nargs = map[string]bool{"--goodput": true, "--metadata": true}

func joinNargs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !nargs[a] {
			out = append(out, a)
			continue
		}
		var vals []string
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			vals = append(vals, args[i])
		}
		out = append(out, a+"="+strings.Join(vals, ","))
	}
	return out
}

func levelMapper() kong.MapperFunc {
	return func(ctx *kong.DecodeContext, target reflect.Value) error {
		var s string
		if err := ctx.Scan.PopValueInto("level", &s); err != nil {
			return err
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("log level %q: want debug, info, warn or error", s)
		}
		target.Set(reflect.ValueOf(l))
		return nil
	}
}

// redactArgs is the command line as recorded in results: API keys (of
// --api-key and of --tenant's key=) are replaced, so a committed result
// never holds one.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case i > 0 && args[i-1] == "--api-key", strings.HasPrefix(a, "--api-key="):
			if strings.HasPrefix(a, "--api-key=") {
				a = "--api-key=REDACTED"
			} else {
				a = "REDACTED"
			}
		case i > 0 && args[i-1] == "--tenant", strings.HasPrefix(a, "--tenant="):
			prefix, spec := "", a
			if rest, ok := strings.CutPrefix(a, "--tenant="); ok {
				prefix, spec = "--tenant=", rest
			}
			parts := strings.Split(spec, ",")
			for j, p := range parts {
				if k, _, ok := strings.Cut(p, "="); ok && k == "key" {
					parts[j] = "key=REDACTED"
				}
			}
			a = prefix + strings.Join(parts, ",")
		}
		out[i] = a
	}
	return out
}
