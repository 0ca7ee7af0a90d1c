package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/cpu"
	"github.com/sotasystems/sota/sample"
)

type generateCmd struct {
	Model         string `help:"Hugging Face model folder (config.json, *.safetensors, tokenizer.json). Empty: the built-in demo model." env:"SOTA_MODEL" placeholder:"DIR"`
	Tokenizer     string `help:"Folder holding tokenizer.json, when it is not the model folder." env:"SOTA_TOKENIZER" placeholder:"DIR"`
	RandomWeights bool   `help:"Build the model from --model's config.json with deterministic random weights (for speed and memory at real shapes)." env:"SOTA_RANDOM_WEIGHTS"`
	WeightsSeed   uint64 `help:"Seed of --random-weights." default:"0" env:"SOTA_WEIGHTS_SEED"`
	Device        string `help:"Where the model runs." enum:"cpu" default:"cpu" env:"SOTA_DEVICE"`
	Threads       int    `help:"CPU threads (0 = all cores)." default:"0" env:"SOTA_THREADS"`
	MaxModelLen   int    `help:"Longest context in tokens (0 = the model's)." default:"0" env:"SOTA_MAX_MODEL_LEN"`

	Prompt            string   `help:"Prompt text." default:"" env:"SOTA_PROMPT"`
	PromptIDs         []int32  `help:"Prompt as token ids, comma separated (instead of --prompt)." name:"prompt-ids" sep:","`
	MaxTokens         int      `help:"Most tokens to generate (capped by the context length)." default:"256" env:"SOTA_MAX_TOKENS"`
	IgnoreEOS         bool     `help:"Keep generating past end-of-sequence tokens." env:"SOTA_IGNORE_EOS"`
	Temperature       *float32 `help:"Sampling temperature; 0 = greedy. Default: the model's generation_config.json (greedy if it does not sample)." env:"SOTA_TEMPERATURE"`
	TopP              *float32 `help:"Nucleus sampling mass in (0, 1]." name:"top-p" env:"SOTA_TOP_P"`
	TopK              *int     `help:"Sample among the K most likely tokens (0 = off)." name:"top-k" env:"SOTA_TOP_K"`
	MinP              *float32 `help:"Drop tokens less likely than min-p times the most likely." name:"min-p" env:"SOTA_MIN_P"`
	RepetitionPenalty *float32 `help:"Penalty > 1 discourages repeating prompt and output tokens." env:"SOTA_REPETITION_PENALTY"`
	Seed              *uint64  `help:"Random seed; the same seed gives the same text. Default: random." env:"SOTA_SEED"`
	Quiet             bool     `help:"Do not print statistics to stderr." short:"q"`
}

func (g *generateCmd) Run(rc *runContext) error {
	src := modelSource{Dir: g.Model, TokenizerDir: g.Tokenizer, RandomWeights: g.RandomWeights, WeightsSeed: g.WeightsSeed}
	l, err := src.load(rc.logger)
	if err != nil {
		return err
	}
	defer l.m.Close()
	prompt, err := g.promptIDs(l)
	if err != nil {
		return err
	}
	params, err := g.samplingParams(l)
	if err != nil {
		return err
	}
	be, err := newCPUBackend(l, cpu.Options{Threads: g.Threads, MaxModelLen: g.MaxModelLen, MaxSeqs: 1}, rc.stderr)
	if err != nil {
		return err
	}
	defer be.Close()
	l.m.Close() // the backend holds its own copy of the weights

	eos := map[int32]bool{}
	if !g.IgnoreEOS {
		for _, id := range l.m.EOSTokenIDs() {
			eos[id] = true
		}
	}
	out := bufio.NewWriter(rc.stdout)
	defer out.Flush()
	emit := g.emitter(l, prompt, out)
	if g.PromptIDs == nil && g.Prompt != "" {
		fmt.Fprint(out, g.Prompt)
	}
	st, err := generate(rc.ctx, be, prompt, params, g.MaxTokens, eos, func(tok int32) error {
		emit(tok, false)
		return out.Flush()
	})
	emit(0, true)
	fmt.Fprintln(out)
	if err != nil {
		return err
	}
	if !g.Quiet {
		out.Flush()
		fmt.Fprintf(rc.stderr, "[%s · %s kernels · prompt %d tokens · generated %d · time to first token %s · %.1f tokens/s]\n",
			l.name, cpu.KernelName(), len(prompt), st.generated, st.ttft.Round(10*time.Microsecond), st.decodeRate())
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
	set := func(dst *float32, v *float32) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.Temperature, g.Temperature)
	set(&p.TopP, g.TopP)
	set(&p.MinP, g.MinP)
	set(&p.RepetitionPenalty, g.RepetitionPenalty)
	if g.TopK != nil {
		p.TopK = *g.TopK
	}
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

type genStats struct {
	generated int
	ttft      time.Duration // prefill until the first token
	decode    time.Duration // first token until the last
}

func (s genStats) decodeRate() float64 {
	if s.generated < 2 || s.decode <= 0 {
		return 0
	}
	return float64(s.generated-1) / s.decode.Seconds()
}

// generate runs one sequence: the prompt in chunks of the backend's batch
// limit, then one token per step until maxTokens, an EOS id or the end of the
// context. KV blocks 0..n-1 hold the sequence (it is alone in the cache).
func generate(ctx context.Context, be backend.Backend, prompt []int32, params sample.Params,
	maxTokens int, eos map[int32]bool, onToken func(int32) error) (genStats, error) {
	var st genStats
	g := be.Geometry()
	if len(prompt) >= g.MaxModelLen {
		return st, fmt.Errorf("prompt of %d tokens leaves no room in the context of %d tokens", len(prompt), g.MaxModelLen)
	}
	maxTokens = min(maxTokens, g.MaxModelLen-len(prompt))
	if maxTokens <= 0 {
		return st, nil
	}
	total := len(prompt) + maxTokens
	nBlocks := (total + g.BlockSize - 1) / g.BlockSize
	if nBlocks > g.NumBlocks {
		return st, fmt.Errorf("%d tokens need %d KV blocks, the cache has %d", total, nBlocks, g.NumBlocks)
	}
	table := make([]int32, nBlocks)
	for i := range table {
		table[i] = int32(i)
	}
	var output []int32
	start := time.Now()
	step := func(tokens []int32, pos int, sampleIt bool) (int32, error) {
		b := &backend.Batch{
			Tokens:           tokens,
			Positions:        make([]int32, len(tokens)),
			SeqStarts:        []int32{0, int32(len(tokens))},
			BlockTables:      table[:(pos+len(tokens)+g.BlockSize-1)/g.BlockSize],
			BlockTableStarts: []int32{0, 0},
		}
		b.BlockTableStarts[1] = int32(len(b.BlockTables))
		for i := range tokens {
			b.Positions[i] = int32(pos + i)
		}
		if sampleIt {
			b.Samples = []backend.SampleRow{{Seq: 0, Params: params, PromptTokens: prompt, OutputTokens: output}}
		}
		out, err := be.Forward(ctx, b)
		if err != nil || !sampleIt {
			return 0, err
		}
		return out.Samples[0].Token, nil
	}
	// Prefill.
	var tok int32
	for pos := 0; pos < len(prompt); pos += g.MaxBatchTokens {
		end := min(pos+g.MaxBatchTokens, len(prompt))
		var err error
		if tok, err = step(prompt[pos:end], pos, end == len(prompt)); err != nil {
			return st, err
		}
	}
	st.ttft = time.Since(start)
	decodeStart := time.Now()
	for {
		output = append(output, tok)
		st.generated++
		if eos[tok] {
			break
		}
		if err := onToken(tok); err != nil {
			return st, err
		}
		if st.generated == maxTokens {
			break
		}
		var err error
		if tok, err = step([]int32{tok}, len(prompt)+len(output)-1, true); err != nil {
			return st, err
		}
	}
	st.decode = time.Since(decodeStart)
	return st, nil
}
