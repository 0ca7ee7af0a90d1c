package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/sample"
)

type generateCmd struct {
	Model         string `help:"Hugging Face model folder (config.json, *.safetensors, tokenizer.json). Empty: the built-in demo model." env:"SOTA_MODEL" placeholder:"DIR"`
	Tokenizer     string `help:"Folder holding tokenizer.json, when it is not the model folder." env:"SOTA_TOKENIZER" placeholder:"DIR"`
	RandomWeights bool   `help:"Build the model from --model's config.json with deterministic random weights (for speed and memory at real shapes)." env:"SOTA_RANDOM_WEIGHTS"`
	WeightsSeed   uint64 `help:"Seed of --random-weights." default:"0" env:"SOTA_WEIGHTS_SEED"`
	Threads       int    `help:"CPU threads (0 = all cores)." default:"0" env:"SOTA_THREADS"`
	MaxModelLen   int    `help:"Longest context in tokens (0 = the model's, lowered to what the KV cache holds)." default:"0" env:"SOTA_MAX_MODEL_LEN"`

	Prompt            string   `help:"Prompt text." default:"" env:"SOTA_PROMPT"`
	PromptIDs         []int32  `help:"Prompt as token ids, comma separated (instead of --prompt)." name:"prompt-ids" sep:","`
	MaxTokens         int      `help:"Most tokens to generate; more than the context leaves is capped, with a note on stderr (serve answers such a request with a 400)." default:"256" env:"SOTA_MAX_TOKENS"`
	IgnoreEOS         bool     `help:"Keep generating past end-of-sequence tokens." env:"SOTA_IGNORE_EOS"`
	Temperature       *float32 `help:"Sampling temperature; 0 = greedy. Default: the model's generation_config.json (greedy if it does not sample)." env:"SOTA_TEMPERATURE"`
	TopP              *float32 `help:"Nucleus sampling mass in (0, 1]." name:"top-p" env:"SOTA_TOP_P"`
	TopK              *int     `help:"Sample among the K most likely tokens (0 = off)." name:"top-k" env:"SOTA_TOP_K"`
	MinP              *float32 `help:"Drop tokens less likely than min-p times the most likely." name:"min-p" env:"SOTA_MIN_P"`
	RepetitionPenalty *float32 `help:"Penalty > 1 discourages repeating prompt and output tokens." env:"SOTA_REPETITION_PENALTY"`
	Seed              *uint64  `help:"Random seed; the same seed gives the same text. Default: random." env:"SOTA_SEED"`
	Quiet             bool     `help:"Do not print statistics to stderr." short:"q"`

	Input  string `help:"JSONL file of requests, one object per line with prompt or prompt_ids and optional sampling fields ('-' for stdin); all run through the engine together." placeholder:"FILE" env:"SOTA_INPUT"`
	Output string `help:"Where --input's results go, as JSONL in input order (default: stdout)." placeholder:"FILE" env:"SOTA_OUTPUT"`

	deviceFlags `embed:""`
	engineFlags `embed:""`
}

func (g *generateCmd) Run(rc *runContext) error {
	if g.Input == "" && g.Output != "" {
		return errors.New("--output needs --input (a single --prompt prints to stdout)")
	}
	if g.Input != "" && (g.Prompt != "" || g.PromptIDs != nil) {
		return errors.New("give --input or --prompt/--prompt-ids, not both")
	}
	opts, err := g.cpuOptions(g.Threads, g.MaxModelLen)
	if err != nil {
		return err
	}
	src := modelSource{Dir: g.Model, TokenizerDir: g.Tokenizer, RandomWeights: g.RandomWeights, WeightsSeed: g.WeightsSeed}
	l, err := src.load(rc.logger)
	if err != nil {
		return err
	}
	defer l.m.Close()
	params, err := g.samplingParams(l)
	if err != nil {
		return err
	}
	var prompt []int32
	if g.Input == "" {
		if prompt, err = g.promptIDs(l); err != nil {
			return err
		}
	}
	if g.Input == "" {
		opts.MaxSeqs = 1 // one sequence: do not size the cache for 256
	}
	be, err := newBackend(rc.ctx, l, src, g.deviceFlags, opts, rc.logger, rc.stderr)
	if err != nil {
		return err
	}
	defer be.Close()
	l.m.Close() // the backend holds its own copy of the weights
	var eos []int32
	eos = append(eos, l.m.EOSTokenIDs()...)
	eng, err := g.newEngine(be, eos, g.MaxModelLen, rc.logger)
	if err != nil {
		return err
	}
	defer eng.Close()
	if g.Input != "" {
		return g.runBatch(rc, l, eng, params)
	}
	return g.runOne(rc, l, eng, prompt, params, kernelName(be))
}

// runOne streams one prompt's continuation to stdout.
func (g *generateCmd) runOne(rc *runContext, l *loaded, eng *engine.Engine, prompt []int32, params sample.Params, kernels string) error {
	room := eng.MaxModelLen() - len(prompt)
	if room <= 0 {
		return fmt.Errorf("prompt of %d tokens leaves no room in the context of %d tokens", len(prompt), eng.MaxModelLen())
	}
	if g.MaxTokens < 1 {
		return fmt.Errorf("--max-tokens %d: must be positive", g.MaxTokens)
	}
	if g.MaxTokens > room {
		// serve answers such a request with a 400 naming max_tokens; generate
		// runs what fits and says so.
		fmt.Fprintf(rc.stderr, "sota: --max-tokens %d capped to %d: the prompt has %d tokens and the context %d (--max-model-len)\n",
			g.MaxTokens, room, len(prompt), eng.MaxModelLen())
	}
	stream, err := eng.Generate(rc.ctx, engine.Request{
		Prompt: prompt, Params: params, MaxTokens: min(g.MaxTokens, room), IgnoreEOS: g.IgnoreEOS,
	})
	if err != nil {
		return err
	}
	out := bufio.NewWriter(rc.stdout)
	defer out.Flush()
	emit := g.emitter(l, prompt, out)
	if g.PromptIDs == nil && g.Prompt != "" {
		fmt.Fprint(out, g.Prompt)
	}
	generated := 0
	for {
		c, err := stream.Recv(rc.ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			emit(0, true)
			fmt.Fprintln(out)
			return err
		}
		generated++
		if !c.StopToken {
			emit(c.Token, false)
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
	emit(0, true)
	fmt.Fprintln(out)
	if !g.Quiet {
		out.Flush()
		tm := stream.Timings()
		rate := 0.0
		if d := tm.Finished.Sub(tm.FirstToken); generated > 1 && d > 0 {
			rate = float64(generated-1) / d.Seconds()
		}
		fmt.Fprintf(rc.stderr, "[%s · %s · prompt %d tokens · generated %d · time to first token %s · %.1f tokens/s]\n",
			l.name, kernels, len(prompt), generated, tm.FirstToken.Sub(tm.Arrival).Round(10*time.Microsecond), rate)
	}
	return nil
}

// promptIDs tokenizes --prompt (with BOS as the tokenizer config says) or
// takes --prompt-ids. Without a tokenizer the prompt is BOS alone.
func (g *generateCmd) promptIDs(l *loaded) ([]int32, error) {
	if g.PromptIDs != nil {
		if g.Prompt != "" {
			return nil, errors.New("give --prompt or --prompt-ids, not both")
		}
		return g.PromptIDs, nil
	}
	if l.tok == nil {
		if g.Prompt != "" {
			return nil, errors.New("--prompt needs a tokenizer: this model folder has no tokenizer.json (use --tokenizer DIR or --prompt-ids)")
		}
		if l.m.Config.BOSTokenID < 0 {
			return nil, errors.New("the model has no tokenizer and no BOS token: give --prompt-ids")
		}
		return []int32{l.m.Config.BOSTokenID}, nil
	}
	ids := l.tok.Encode(g.Prompt, true)
	if len(ids) == 0 {
		if bos, ok := l.tok.BOS(); ok {
			ids = []int32{bos}
		} else {
			return nil, errors.New("the prompt is empty and the tokenizer adds no BOS token: give a prompt")
		}
	}
	return ids, nil
}

// samplingParams starts from the model's generation_config.json and applies the flags.
func (g *generateCmd) samplingParams(l *loaded) (sample.Params, error) {
	p := sample.Params{TopP: 1, RepetitionPenalty: 1}
	gc := l.m.Generation
	if gc.DoSample {
		p.Temperature = 1
		if gc.Temperature != nil {
			p.Temperature = float32(*gc.Temperature)
		}
		if gc.TopP != nil {
			p.TopP = float32(*gc.TopP)
		}
		if gc.TopK != nil {
			p.TopK = *gc.TopK
		}
	}
	override(&p.Temperature, g.Temperature)
	override(&p.TopP, g.TopP)
	override(&p.MinP, g.MinP)
	override(&p.RepetitionPenalty, g.RepetitionPenalty)
	override(&p.TopK, g.TopK)
	p.Seed = rand.Uint64()
	if g.Seed != nil {
		p.Seed = *g.Seed
	}
	if err := p.Validate(l.m.Config.VocabSize); err != nil {
		return p, err
	}
	return p, nil
}

// emitter streams decoded text, or token ids when there is no tokenizer.
// emit(_, true) flushes what the decoder holds back.
func (g *generateCmd) emitter(l *loaded, prompt []int32, out *bufio.Writer) func(tok int32, final bool) {
	if l.tok == nil {
		first := true
		return func(tok int32, final bool) {
			if final {
				return
			}
			if !first {
				out.WriteByte(' ')
			}
			first = false
			out.WriteString(strconv.Itoa(int(tok)))
		}
	}
	dec := l.tok.NewDecoder(true)
	dec.Prime(prompt)
	return func(tok int32, final bool) {
		if final {
			out.WriteString(dec.Flush())
			return
		}
		out.WriteString(dec.Add(tok))
	}
}

// override sets *dst to *v when v is given.
func override[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
