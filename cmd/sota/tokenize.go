package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/tokenizer"
)

// stdin is what `sota tokenize` reads (tests replace it).
var stdin io.Reader = os.Stdin

type tokenizeCmd struct {
	Inputs              []string `arg:"" optional:"" name:"input" help:"Inputs to use instead of stdin's lines: text (or a JSON string) to encode; with --decode, JSON arrays of ids; with --chat, messages."`
	ChatTemplate        string   `help:"With --chat: the template serve --chat-template would use (a file, or the template text)." env:"SOTA_CHAT_TEMPLATE" placeholder:"FILE|TEXT"`
	Model               string   `help:"Model or tokenizer folder (tokenizer.json, else tokenizer.model; chat template from chat_template.jinja or tokenizer_config.json), or ORG/NAME from the Hugging Face cache. Empty: the built-in demo model." env:"SOTA_MODEL" placeholder:"DIR"`
	Decode              bool     `help:"Read one JSON array of token ids per line; print the text as a JSON string." xor:"mode"`
	Chat                bool     `help:"Read one OpenAI messages array, or {\"messages\": [...], \"tools\": [...]}, per line; print the rendered prompt as a JSON string." xor:"mode"`
	AddSpecial          bool     `help:"Add the tokenizer's special tokens (BOS) when encoding." default:"true" negatable:""`
	SkipSpecial         bool     `help:"Drop special tokens when decoding." negatable:""`
	AddGenerationPrompt bool     `help:"With --chat: end with the assistant turn's header." default:"true" negatable:""`
	TemplateKwargs      string   `help:"With --chat: extra template variables as a JSON object, e.g. '{\"enable_thinking\": false}'." placeholder:"JSON"`
}

// chatRequest is one --chat input line in object form.
type chatRequest struct {
	Messages json.RawMessage `json:"messages"`
	Tools    json.RawMessage `json:"tools"`
}

func (c *tokenizeCmd) Run(rc *runContext) error {
	tok, tmpl, err := c.load()
	if err != nil {
		return err
	}
	var kwargs map[string]any
	if c.TemplateKwargs != "" {
		if err := json.Unmarshal([]byte(c.TemplateKwargs), &kwargs); err != nil {
			return fmt.Errorf("--template-kwargs: %w", err)
		}
	}
	out := bufio.NewWriter(rc.stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var input io.Reader = stdin
	if len(c.Inputs) > 0 {
		input = strings.NewReader(strings.Join(c.Inputs, "\n") + "\n")
	}
	sc := bufio.NewScanner(input)
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	for n := 1; sc.Scan(); n++ {
		raw := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		line := bytes.TrimSpace(raw)
		if len(line) == 0 {
			continue
		}
		var result any
		switch {
		case c.Decode:
			var ids []int32
			if err := json.Unmarshal(line, &ids); err != nil {
				return fmt.Errorf("line %d: want a JSON array of token ids: %w", n, err)
			}
			result = tok.Decode(ids, c.SkipSpecial)
		case c.Chat:
			msgs, tools := chatInput(line)
			// The server's own normalization, so the rendering is the served one.
			msgs, err := openai.NormalizeMessages(msgs)
			if err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
			text, err := tmpl.RenderJSON(msgs, tools, tokenizer.RenderOptions{AddGenerationPrompt: c.AddGenerationPrompt, Kwargs: kwargs})
			if err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
			result = text
		default:
			// A JSON string (for text with newlines or exact spaces), else the
			// line as it is.
			var text string
			if line[0] != '"' || json.Unmarshal(line, &text) != nil {
				text = string(raw)
			}
			result = nonNil(tok.Encode(text, c.AddSpecial))
		}
		if err := enc.Encode(result); err != nil {
			return err
		}
		if err := out.Flush(); err != nil { // answer each line at once (pipes, co-processes)
			return err
		}
	}
	return sc.Err()
}

// chatInput splits a --chat line into its messages and tools.
func chatInput(line []byte) (msgs, tools json.RawMessage) {
	if line[0] != '{' {
		return line, nil
	}
	var req chatRequest
	if err := json.Unmarshal(line, &req); err != nil || req.Messages == nil {
		return line, nil // RenderJSON reports that it is not an array
	}
	return req.Messages, req.Tools
}

func nonNil(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}

// load reads the tokenizer and, for --chat, the chat template: the one
// serve would render (serveCmd.template: --chat-template, the folder's own,
// the built-in model's plain one).
func (c *tokenizeCmd) load() (*tokenizer.Tokenizer, *tokenizer.Template, error) {
	var tok *tokenizer.Tokenizer
	var err error
	dir := c.Model
	if dir == "" {
		if tok, err = tokenizer.LoadFS(demo.FS()); err != nil {
			return nil, nil, fmt.Errorf("built-in model: %w", err)
		}
	} else {
		if dir, err = resolveTokenizer(dir); err != nil {
			return nil, nil, err
		}
		if tok, err = tokenizer.Load(dir); err != nil {
			return nil, nil, err
		}
	}
	if !c.Chat {
		return tok, nil, nil
	}
	serve := serveCmd{ChatTemplate: c.ChatTemplate}
	tmpl, err := serve.template(&loaded{tok: tok}, modelSource{Dir: dir})
	if err == nil && tmpl == nil {
		err = tokenizer.ErrNoChatTemplate
	}
	if errors.Is(err, tokenizer.ErrNoChatTemplate) {
		return nil, nil, fmt.Errorf("--chat: %w in %s (serve it with --chat-template; here too)", err, modelName(c.Model))
	}
	return tok, tmpl, err
}

func modelName(dir string) string {
	if dir == "" {
		return "the built-in model"
	}
	return dir
}
