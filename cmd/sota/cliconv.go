package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/alecthomas/kong"
)

// signalLogger, once run has built it, is where watchSignals says what a
// signal does (so --log-format json stays JSON); before that, stderr.
var signalLogger atomic.Pointer[slog.Logger]

// watchSignals cancels the returned context at the first signal on sigs
// (serve then drains, generate stops) and calls exit at once at the second,
// with 128+signal as the status, as a shell reports it. stop ends the watch.
func watchSignals(parent context.Context, sigs <-chan os.Signal, stderr io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	say := func(msg string, sig os.Signal) {
		if l := signalLogger.Load(); l != nil {
			l.Warn(msg, "signal", sig.String())
			return
		}
		fmt.Fprintf(stderr, "sota: %s (%s)\n", msg, sig)
	}
	go func() {
		defer wg.Done()
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		say("shutting down: press Ctrl-C again to force", sig)
		cancel()
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		say("second signal: exiting now", sig)
		code := 1
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		exit(code)
	}()
	return ctx, func() {
		close(done)
		wg.Wait()
		cancel()
	}
}

// helpCommand is the command whose --help a parse error points to: the
// subcommand being parsed ("sota serve"), else "sota".
func helpCommand(err error) string {
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		if n := pe.Context.Selected(); n != nil {
			return n.FullPath()
		}
	}
	return "sota"
}

// pathFlags are the flags that name files or folders: a leading ~ in them
// (from the command line or the SOTA_* environment) is the home directory,
// as a shell would have expanded it had it seen it (--model=~/x, env vars).
var pathFlags = map[string]bool{
	"model": true, "tokenizer": true, "chat-template": true, "db": true, "tiers": true,
	"tls-cert": true, "tls-key": true, "cuda-lib": true, "input": true, "output": true,
}

// expandPathFlags expands ~ in the path flags of the parsed command line;
// in --model NAME=DIR it expands DIR.
func expandPathFlags(kctx *kong.Context) {
	for _, f := range kctx.Flags() {
		if !pathFlags[f.Name] || !f.Target.IsValid() {
			continue
		}
		switch v := f.Target.Interface().(type) {
		case string:
			f.Target.SetString(expandHome(v))
		case []string:
			for i, s := range v {
				if name, dir, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(name, `/\`) {
					v[i] = name + "=" + expandHome(dir)
				} else {
					v[i] = expandHome(s)
				}
			}
		}
	}
}
