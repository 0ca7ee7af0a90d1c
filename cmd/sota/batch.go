package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/sample"
)

// batchLine is one request of a --input file. Absent fields take the flags'
// values (and those default to the model's generation_config.json).
type batchLine struct {
	ID                any               `json:"id,omitempty"`
	Prompt            *string           `json:"prompt"`
	PromptIDs         []int32           `json:"prompt_ids"`
	MaxTokens         *int              `json:"max_tokens"`
	N                 *int              `json:"n"`
	Temperature       *float32          `json:"temperature"`
	TopP              *float32          `json:"top_p"`
	TopK              *int              `json:"top_k"`
	MinP              *float32          `json:"min_p"`
	RepetitionPenalty *float32          `json:"repetition_penalty"`
	PresencePenalty   *float32          `json:"presence_penalty"`
	FrequencyPenalty  *float32          `json:"frequency_penalty"`
	LogitBias         map[int32]float32 `json:"logit_bias"`
	Seed              *uint64           `json:"seed"`
	Logprobs          *int              `json:"logprobs"` // alternatives per token; 0 = the chosen token's only
	StopTokenIDs      []int32           `json:"stop_token_ids"`
	IgnoreEOS         *bool             `json:"ignore_eos"`
	Priority          int               `json:"priority"`
	Tenant            string            `json:"tenant"`
}

// batchResult is one line of the output, in input order.
type batchResult struct {
	Index   int           `json:"index"` // 0-based line number of the request
	ID      any           `json:"id,omitempty"`
	Prompt  *string       `json:"prompt,omitempty"`
	Outputs []batchOutput `json:"outputs,omitempty"`
	Usage   *batchUsage   `json:"usage,omitempty"`
	Error   string        `json:"error,omitempty"`
	// Warning says what was changed to make the request run (a max_tokens
	// capped to the context), as single-prompt generate says on stderr.
	Warning string `json:"warning,omitempty"`
}

type batchOutput struct {
	Index             int             `json:"index"`
	Text              *string         `json:"text,omitempty"` // absent without a tokenizer
	TokenIDs          []int32         `json:"token_ids"`
	FinishReason      string          `json:"finish_reason"`
	CumulativeLogprob *float64        `json:"cumulative_logprob,omitempty"`
	Logprobs          []tokenLogprobs `json:"logprobs,omitempty"`
}

type tokenLogprobs struct {
	Token   int32    `json:"token"`
	Logprob float32  `json:"logprob"`
	Top     [][2]any `json:"top,omitempty"` // [token id, logprob], most likely first
}

type batchUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	CachedTokens     int `json:"cached_tokens"`
}

// batchSummary is what a batch run did.
type batchSummary struct {
	requests, failed        int
	promptTokens, genTokens int
	wall                    time.Duration
}

// runBatch sends every line of --input through the engine at once (keeping a
// bounded number in flight) and writes the results in input order.
func (g *generateCmd) runBatch(rc *runContext, l *loaded, eng *engine.Engine, defaults sample.Params) error {
	in, closeIn, err := openInput(g.Input)
	if err != nil {
		return err
	}
	defer closeIn()
	out, closeOut, err := openOutput(g.Output, rc.stdout)
	if err != nil {
		return err
	}
	lines, err := readLines(in)
	if err != nil {
		return fmt.Errorf("read %s: %w", g.Input, err)
	}
	bar := newRequestBar(len(lines), rc.stderr)
	start := time.Now()
	sum := batchSummary{requests: len(lines)}
	w := bufio.NewWriter(out)
	ctx, cancel := context.WithCancel(rc.ctx)
	defer cancel()

	// Keep enough requests queued that the engine's batch stays full.
	window := 4 * eng.SchedulerConfig().MaxNumSeqs
	type pending struct {
		res    *batchResult
		stream *engine.Stream
		prompt []int32
		done   chan struct{}
	}
	queue := make(chan *pending, window)
	go func() {
		defer close(queue)
		for i, raw := range lines {
			p := &pending{res: &batchResult{Index: i}, done: make(chan struct{})}
			req, line, err := g.batchRequest(raw, l, defaults)
			p.res.ID, p.res.Prompt = line.ID, line.Prompt
			if err == nil {
				p.prompt = req.Prompt
				if room := eng.MaxModelLen() - len(req.Prompt); room > 0 && req.MaxTokens > room {
					p.res.Warning = fmt.Sprintf("max_tokens %d capped to %d: the prompt has %d tokens and the context %d (--max-model-len)",
						req.MaxTokens, room, len(req.Prompt), eng.MaxModelLen())
					req.MaxTokens = room
				}
				p.stream, err = eng.Generate(ctx, req)
			}
			if err != nil {
				p.res.Error = err.Error()
				close(p.done)
			} else {
				go func() {
					defer close(p.done)
					g.collect(ctx, l, p.stream, p.prompt, req.Params, p.res)
				}()
			}
			select {
			case queue <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	var werr error
	for p := range queue {
		<-p.done
		if p.res.Error != "" {
			sum.failed++
		}
		if p.res.Usage != nil {
			sum.promptTokens += p.res.Usage.PromptTokens
			sum.genTokens += p.res.Usage.CompletionTokens
		}
		if werr == nil {
			werr = writeJSONLine(w, p.res)
		}
		bar.Add(1)
	}
	if err := w.Flush(); werr == nil {
		werr = err
	}
	if err := closeOut(); werr == nil {
		werr = err
	}
	bar.Finish()
	sum.wall = time.Since(start)
	if err := rc.ctx.Err(); err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("write results: %w", werr)
	}
	if !g.Quiet {
		fmt.Fprintln(rc.stderr, sum.String())
	}
	if sum.failed > 0 {
		return fmt.Errorf("%d of %d requests failed (see their \"error\" fields)", sum.failed, sum.requests)
	}
	return nil
}

func (s batchSummary) String() string {
	secs := s.wall.Seconds()
	return fmt.Sprintf("[%d requests (%d failed) · %d prompt tokens · %d generated tokens · %.1f generated tokens/s · %.1f total tokens/s · wall %s]",
		s.requests, s.failed, s.promptTokens, s.genTokens, float64(s.genTokens)/secs,
		float64(s.promptTokens+s.genTokens)/secs, s.wall.Round(time.Millisecond))
}

// batchRequest decodes one line into an engine request.
func (g *generateCmd) batchRequest(raw []byte, l *loaded, defaults sample.Params) (engine.Request, batchLine, error) {
	var line batchLine
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&line); err != nil {
		return engine.Request{}, line, fmt.Errorf("bad JSON: %w", err)
	}
	if dec.More() {
		return engine.Request{}, line, errors.New("bad JSON: more than one value on the line")
	}
	req := engine.Request{Params: defaults, Priority: line.Priority, Tenant: line.Tenant, StopTokenIDs: line.StopTokenIDs}
	switch {
	case line.Prompt != nil && line.PromptIDs != nil:
		return req, line, errors.New("give prompt or prompt_ids, not both")
	case line.PromptIDs != nil:
		req.Prompt = line.PromptIDs
	case line.Prompt != nil:
		if l.tok == nil {
			return req, line, errors.New("prompt needs a tokenizer: this model has none (use prompt_ids)")
		}
		req.Prompt = l.tok.Encode(*line.Prompt, true)
	default:
		return req, line, errors.New("missing prompt or prompt_ids")
	}
	if len(req.Prompt) == 0 {
		return req, line, errors.New("empty prompt")
	}
	p := &req.Params
	override(&p.Temperature, line.Temperature)
	override(&p.TopP, line.TopP)
	override(&p.MinP, line.MinP)
	override(&p.RepetitionPenalty, line.RepetitionPenalty)
	override(&p.PresencePenalty, line.PresencePenalty)
	override(&p.FrequencyPenalty, line.FrequencyPenalty)
	override(&p.TopK, line.TopK)
	override(&p.Seed, line.Seed)
	if line.LogitBias != nil {
		p.LogitBias = line.LogitBias
	}
	if line.Logprobs != nil {
		if *line.Logprobs < 0 || *line.Logprobs > sample.MaxTopLogprobs {
			return req, line, fmt.Errorf("logprobs = %d, want 0..%d", *line.Logprobs, sample.MaxTopLogprobs)
		}
		p.Logprobs, p.TopLogprobs = true, *line.Logprobs
	}
	if line.N != nil {
		if *line.N < 1 {
			return req, line, fmt.Errorf("n = %d, want >= 1", *line.N)
		}
		req.N = *line.N
	}
	req.IgnoreEOS = g.IgnoreEOS
	if line.IgnoreEOS != nil {
		req.IgnoreEOS = *line.IgnoreEOS
	}
	req.MaxTokens = g.MaxTokens
	if line.MaxTokens != nil {
		if *line.MaxTokens < 1 {
			return req, line, fmt.Errorf("max_tokens = %d, want >= 1", *line.MaxTokens)
		}
		req.MaxTokens = *line.MaxTokens
	}
	return req, line, nil
}

// collect reads a stream into res.
func (g *generateCmd) collect(ctx context.Context, l *loaded, s *engine.Stream, prompt []int32, params sample.Params, res *batchResult) {
	outs := make([]batchOutput, s.N())
	cum := make([]float64, s.N())
	for {
		c, err := s.Recv(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Error = err.Error()
			return
		}
		o := &outs[c.Index]
		o.Index = c.Index
		o.TokenIDs = append(o.TokenIDs, c.Token)
		if c.Finish != "" {
			o.FinishReason = string(c.Finish)
		}
		if params.Logprobs {
			cum[c.Index] += float64(c.Logprob)
			tl := tokenLogprobs{Token: c.Token, Logprob: c.Logprob}
			for _, t := range c.Top {
				tl.Top = append(tl.Top, [2]any{t.Token, t.Logprob})
			}
			o.Logprobs = append(o.Logprobs, tl)
		}
	}
	for i := range outs {
		o := &outs[i]
		if params.Logprobs && !math.IsInf(cum[i], 0) {
			o.CumulativeLogprob = &cum[i]
		}
		if l.tok != nil {
			ids := o.TokenIDs
			if o.FinishReason == "stop" && len(ids) > 0 {
				ids = ids[:len(ids)-1] // the stop token is not text
			}
			dec := l.tok.NewDecoder(true)
			dec.Prime(prompt)
			text := ""
			for _, id := range ids {
				text += dec.Add(id)
			}
			text += dec.Flush()
			o.Text = &text
		}
	}
	u := s.Usage()
	res.Outputs = outs
	res.Usage = &batchUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, CachedTokens: u.CachedTokens}
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// readLines returns the non-blank lines of r.
func readLines(r io.Reader) ([][]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var lines [][]byte
	for sc.Scan() {
		if b := bytes.TrimSpace(sc.Bytes()); len(b) > 0 {
			lines = append(lines, bytes.Clone(b))
		}
	}
	return lines, sc.Err()
}

func openInput(path string) (io.Reader, func(), error) {
	if path == "-" {
		return os.Stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--input: %w", err)
	}
	return f, func() { f.Close() }, nil
}

func openOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--output: %w", err)
	}
	return f, f.Close, nil
}

// requestBar is a progress bar on a terminal, else nothing.
type requestBar struct{ bar *progressbar.ProgressBar }

func newRequestBar(n int, stderr io.Writer) requestBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return requestBar{}
	}
	return requestBar{progressbar.NewOptions(n, progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("requests"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("req"), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())}
}

func (b requestBar) Add(n int) {
	if b.bar != nil {
		_ = b.bar.Add(n)
	}
}

func (b requestBar) Finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}
