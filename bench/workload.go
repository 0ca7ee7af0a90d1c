package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Prompt is one request of a workload.
type Prompt struct {
	System    string    // a system prompt (shared-prefix workloads); empty for none
	Text      string    // the user message (chat) or the prompt (completions)
	Messages  []Message // a whole conversation; when set, System and Text are unused
	InputLen  int       // prompt length in tokens as the workload estimates it
	OutputLen int       // max_tokens
	IgnoreEOS bool      // ask for exactly OutputLen tokens (vLLM's ignore_eos extension)
}

// ChatMessages is the prompt as chat messages.
func (p Prompt) ChatMessages() []Message {
	if len(p.Messages) > 0 {
		return p.Messages
	}
	var m []Message
	if p.System != "" {
		m = append(m, Message{Role: "system", Content: p.System})
	}
	return append(m, Message{Role: "user", Content: p.Text})
}

// CompletionText is the prompt as one string: the system prompt first, then
// the text (a conversation's contents joined by newlines).
func (p Prompt) CompletionText() string {
	if len(p.Messages) > 0 {
		parts := make([]string, len(p.Messages))
		for i, m := range p.Messages {
			parts[i] = m.Content
		}
		return strings.Join(parts, "\n")
	}
	if p.System != "" {
		return p.System + " " + p.Text
	}
	return p.Text
}

// lengths draws n lengths uniformly from [floor(l·(1−r)), ceil(l·(1+r))], as
// vllm's --random-range-ratio does; at least lo.
func lengths(rng *rand.Rand, n, l int, r float64, lo int) []int {
	a := max(int(math.Floor(float64(l)*(1-r))), lo)
	b := max(int(math.Ceil(float64(l)*(1+r))), a)
	out := make([]int, n)
	for i := range out {
		out[i] = a + rng.IntN(b-a+1)
	}
	return out
}

// randomWords is n words drawn from the word list, joined by spaces.
func randomWords(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.Grow(n * 6)
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

// NewRand is the seeded generator every random choice of a run draws from.
func NewRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x5eed))
}

// RandomConfig is vllm's "random" dataset: prompts of random words.
type RandomConfig struct {
	NumPrompts int
	InputLen   int     // tokens (≈ words), before the range ratio
	OutputLen  int     // max_tokens, before the range ratio
	RangeRatio float64 // lengths uniform in [l·(1−r), l·(1+r)]; 0 = fixed
	PrefixLen  int     // words of one random prefix shared by every prompt
}

// Random builds a random-words workload. Every prompt asks for exactly its
// output length (ignore_eos), since the lengths are the workload.
func Random(rng *rand.Rand, c RandomConfig) ([]Prompt, error) {
	if c.NumPrompts <= 0 || c.InputLen < 0 || c.OutputLen <= 0 || c.RangeRatio < 0 || c.RangeRatio >= 1 || c.PrefixLen < 0 {
		return nil, fmt.Errorf("%w: random dataset: need num-prompts > 0, input-len >= 0, output-len > 0, 0 <= range-ratio < 1, prefix-len >= 0 (got %+v)", ErrConfig, c)
	}
	in := lengths(rng, c.NumPrompts, c.InputLen, c.RangeRatio, 1)
	out := lengths(rng, c.NumPrompts, c.OutputLen, c.RangeRatio, 1)
	prefix := ""
	if c.PrefixLen > 0 {
		prefix = randomWords(rng, c.PrefixLen) + " "
	}
	ps := make([]Prompt, c.NumPrompts)
	for i := range ps {
		ps[i] = Prompt{Text: prefix + randomWords(rng, in[i]), InputLen: c.PrefixLen + in[i], OutputLen: out[i], IgnoreEOS: true}
	}
	return ps, nil
}

// SharedPrefixConfig is N system prompts × M questions (vllm's
// "prefix_repetition" dataset): prompts that share a long prefix, to show
// prefix caching.
type SharedPrefixConfig struct {
	NumPrompts  int
	NumPrefixes int // N; each is used by NumPrompts/NumPrefixes prompts
	PrefixLen   int // words of each system prompt
	SuffixLen   int // words of each question
	OutputLen   int
}

// SharedPrefix builds a shared-prefix workload, shuffled so that prefixes
// interleave (as vllm does).
func SharedPrefix(rng *rand.Rand, c SharedPrefixConfig) ([]Prompt, error) {
	if c.NumPrompts <= 0 || c.NumPrefixes <= 0 || c.NumPrefixes > c.NumPrompts || c.PrefixLen <= 0 || c.SuffixLen <= 0 || c.OutputLen <= 0 {
		return nil, fmt.Errorf("%w: prefix_repetition dataset: need 0 < num-prefixes <= num-prompts and positive lengths (got %+v)", ErrConfig, c)
	}
	prefixes := make([]string, c.NumPrefixes)
	for i := range prefixes {
		prefixes[i] = randomWords(rng, c.PrefixLen)
	}
	ps := make([]Prompt, c.NumPrompts)
	for i := range ps {
		ps[i] = Prompt{System: prefixes[i%c.NumPrefixes], Text: randomWords(rng, c.SuffixLen),
			InputLen: c.PrefixLen + c.SuffixLen, OutputLen: c.OutputLen, IgnoreEOS: true}
	}
	rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return ps, nil
}

// FileConfig reads prompts from a file.
type FileConfig struct {
	Path       string
	NumPrompts int
	// OutputLen, when > 0, is every prompt's max_tokens; else a record's
	// own (its reply's estimated length, or output_len/max_tokens), else
	// DefaultOutputLen.
	OutputLen        int
	DefaultOutputLen int
	IgnoreEOS        bool
	Shuffle          bool // sample in a seeded random order (vllm does for ShareGPT)
}

// record is one line (or array element) of a prompts file, in any of the
// shapes accepted.
type record struct {
	Conversations []struct {
		From  string `json:"from"`
		Value string `json:"value"`
	} `json:"conversations"`
	Messages  []Message `json:"messages"`
	Prompt    *string   `json:"prompt"`
	OutputLen int       `json:"output_len"`
	MaxTokens int       `json:"max_tokens"`
}

// EstimateTokens guesses a text's token count as one per four bytes (the
// usual rule for English under BPE); used only where no length is given.
func EstimateTokens(s string) int { return max(1, (len(s)+3)/4) }

// File reads a JSONL file (or a JSON array) of prompts: ShareGPT records
// ({"conversations":[{"from":"human","value":…},{"from":"gpt","value":…}]}:
// the first human turn is the prompt, the reply's length the output length),
// OpenAI-style {"messages":[…]} (a final assistant message is the reply), or
// {"prompt":"…"} with an optional "output_len" or "max_tokens". It returns
// NumPrompts prompts, cycling through the file when it holds fewer.
func File(rng *rand.Rand, c FileConfig) ([]Prompt, error) {
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	recs, err := decodeRecords(data)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", c.Path, err)
	}
	var all []Prompt
	for _, r := range recs {
		if p, ok := r.prompt(c); ok {
			all = append(all, p)
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: dataset %s holds no usable prompt", ErrConfig, c.Path)
	}
	if c.Shuffle {
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	}
	n := c.NumPrompts
	if n <= 0 {
		n = len(all)
	}
	out := make([]Prompt, n)
	for i := range out {
		out[i] = all[i%len(all)]
	}
	return out, nil
}

func decodeRecords(data []byte) ([]record, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var recs []record
		if err := json.Unmarshal(trimmed, &recs); err != nil {
			return nil, fmt.Errorf("JSON array: %w", err)
		}
		return recs, nil
	}
	var recs []record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return recs, nil
}

// prompt turns a record into a prompt; false for one with no prompt.
func (r record) prompt(c FileConfig) (Prompt, bool) {
	p := Prompt{IgnoreEOS: c.IgnoreEOS}
	reply := ""
	switch {
	case len(r.Conversations) > 0:
		turn := r.Conversations[0]
		if turn.From != "human" && turn.From != "user" {
			return p, false
		}
		p.Text = turn.Value
		if len(r.Conversations) > 1 {
			reply = r.Conversations[1].Value
		}
	case len(r.Messages) > 0:
		msgs := r.Messages
		if last := msgs[len(msgs)-1]; last.Role == "assistant" && len(msgs) > 1 {
			reply, msgs = last.Content, msgs[:len(msgs)-1]
		}
		p.Messages = msgs
	case r.Prompt != nil:
		p.Text = *r.Prompt
	default:
		return p, false
	}
	if p.Text == "" && len(p.Messages) == 0 {
		return p, false
	}
	p.InputLen = EstimateTokens(p.CompletionText())
	switch {
	case c.OutputLen > 0:
		p.OutputLen = c.OutputLen
	case r.OutputLen > 0:
		p.OutputLen = r.OutputLen
	case r.MaxTokens > 0:
		p.OutputLen = r.MaxTokens
	case reply != "":
		p.OutputLen = EstimateTokens(reply)
	default:
		p.OutputLen = max(c.DefaultOutputLen, 1)
	}
	return p, true
}
