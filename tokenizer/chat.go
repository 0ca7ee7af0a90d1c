package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Chat template errors. A *TemplateError (raise_exception) wraps
// ErrTemplateException; other rendering failures wrap ErrTemplate.
var (
	// ErrNoChatTemplate: the model folder has no chat template.
	ErrNoChatTemplate = errors.New("no chat template")
	// ErrTemplate reports a template that does not parse or fails to
	// render (a type error, an unknown filter, a panic in the engine).
	ErrTemplate = errors.New("chat template error")
	// ErrTemplateException is wrapped by the *TemplateError a template
	// raises with raise_exception: the request does not fit the template
	// (a client error).
	ErrTemplateException = errors.New("chat template rejected the request")
)

// TemplateError is raised by a template's raise_exception(message).
type TemplateError struct{ Message string }

func (e *TemplateError) Error() string { return "chat template: " + e.Message }

// Unwrap makes errors.Is(err, ErrTemplateException) hold.
func (e *TemplateError) Unwrap() error { return ErrTemplateException }

// Message is one chat message. Content is a string, a list of content
// parts ([]ContentPart or decoded JSON), or nil for none. Fields left empty
// are not given to the template (as transformers drops None values).
type Message struct {
	Role             string     `json:"role"`
	Content          any        `json:"content,omitempty"`
	Name             string     `json:"name,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string     `json:"tool_call_id,omitempty"`
	ReasoningContent string     `json:"reasoning_content,omitempty"`
}

// ContentPart is one part of a message's content list.
type ContentPart struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// ToolCall is a call an assistant message made.
type ToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and its arguments: an object (a map, or
// a json.RawMessage to keep key order) as templates expect, or a string.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments any    `json:"arguments"`
}

// RenderOptions are apply_chat_template's other arguments.
type RenderOptions struct {
	AddGenerationPrompt bool
	// Documents for retrieval-augmented templates; nil for none.
	Documents any
	// Kwargs are extra template variables (enable_thinking, date_string,
	// ...); they override the special-token variables.
	Kwargs map[string]any
	// Name picks a named template ("tool_use", ...); "" chooses like
	// transformers: "tool_use" when tools are given and it exists, else
	// "default".
	Name string
	// Now is the clock of strftime_now (default time.Now).
	Now func() time.Time
}

// Template is a model's chat template set: the default template and any
// named ones, with the special-token variables (bos_token, ...) templates
// use. It is immutable and safe for concurrent use.
type Template struct {
	named map[string]*exec.Template // "default" and the named templates
	vars  map[string]any
}

// Names returns the names of the templates ("default" first).
func (t *Template) Names() []string {
	var names []string
	for n := range t.named {
		if n != "default" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if _, ok := t.named["default"]; ok {
		names = append([]string{"default"}, names...)
	}
	return names
}

// Render renders messages (and tools: JSON schemas, nil for none) like
// transformers' apply_chat_template(..., tokenize=False). Use
// json.RawMessage for tools, arguments or content to keep key order.
func (t *Template) Render(messages []Message, tools []any, opts RenderOptions) (string, error) {
	if messages == nil {
		messages = []Message{}
	}
	msgs, err := toValue(messages)
	if err != nil {
		return "", fmt.Errorf("messages: %w", err)
	}
	var tv any
	if tools != nil {
		if tv, err = toValue(tools); err != nil {
			return "", fmt.Errorf("tools: %w", err)
		}
	}
	return t.render(msgs.([]any), tv, opts)
}

// RenderJSON is Render for messages and tools given as JSON arrays (tools
// may be empty or null), keeping every key and its order.
func (t *Template) RenderJSON(messages, tools json.RawMessage, opts RenderOptions) (string, error) {
	mv, err := decodeOrdered(messages)
	if err != nil {
		return "", fmt.Errorf("messages: %w", err)
	}
	msgs, ok := mv.([]any)
	if !ok {
		return "", fmt.Errorf("messages: %w: not a JSON array", ErrTemplate)
	}
	var tv any
	if len(tools) > 0 {
		if tv, err = decodeOrdered(tools); err != nil {
			return "", fmt.Errorf("tools: %w", err)
		}
		if _, ok := tv.([]any); !ok && tv != nil {
			return "", fmt.Errorf("tools: %w: not a JSON array", ErrTemplate)
		}
	}
	return t.render(msgs, tv, opts)
}

// pick chooses the template to render.
func (t *Template) pick(name string, hasTools bool) (*exec.Template, error) {
	if name != "" {
		if tpl, ok := t.named[name]; ok {
			return tpl, nil
		}
		return nil, fmt.Errorf("chat template %q: %w (have %v)", name, ErrNoChatTemplate, t.Names())
	}
	if tpl, ok := t.named["tool_use"]; ok && hasTools {
		return tpl, nil
	}
	if tpl, ok := t.named["default"]; ok {
		return tpl, nil
	}
	return nil, fmt.Errorf("%w named \"default\" (have %v)", ErrNoChatTemplate, t.Names())
}

// prepareMessages does what apply_chat_template does to each message
// before rendering: drops null values and copies the reasoning text under
// "thinking" and "reasoning_content".
func prepareMessages(msgs []any) error {
	for i, m := range msgs {
		d, ok := m.(*exec.Dict)
		if !ok {
			return fmt.Errorf("message %d: %w: not an object", i, ErrTemplate)
		}
		kept := d.Pairs[:0]
		for _, p := range d.Pairs {
			if !p.Value.IsNil() {
				kept = append(kept, p)
			}
		}
		d.Pairs = kept
		var reasoning any
		for _, k := range []string{"reasoning_content", "thinking", "reasoning"} {
			if v, ok := dictGet(d, k); ok {
				reasoning = v
				break
			}
		}
		if reasoning == nil {
			continue
		}
		if _, ok := dictGet(d, "thinking"); !ok {
			d.Pairs = append([]*exec.Pair{{Key: exec.AsValue("thinking"), Value: exec.AsValue(reasoning)}}, d.Pairs...)
		} else {
			dictSet(d, "thinking", reasoning)
		}
		dictSet(d, "reasoning_content", reasoning)
	}
	return nil
}

func (t *Template) render(msgs []any, tools any, opts RenderOptions) (out string, err error) {
	if err := prepareMessages(msgs); err != nil {
		return "", err
	}
	tpl, err := t.pick(opts.Name, tools != nil)
	if err != nil {
		return "", err
	}
	var docs any
	if opts.Documents != nil {
		if docs, err = toValue(opts.Documents); err != nil {
			return "", fmt.Errorf("documents: %w", err)
		}
	}
	st := &renderState{now: opts.Now}
	if st.now == nil {
		st.now = time.Now
	}
	data := map[string]any{}
	for k, v := range t.vars {
		data[k] = v
	}
	for k, v := range opts.Kwargs {
		if data[k], err = toValue(v); err != nil {
			return "", fmt.Errorf("template variable %s: %w", k, err)
		}
	}
	data["messages"] = msgs
	data["tools"] = tools
	data["documents"] = docs
	data["add_generation_prompt"] = opts.AddGenerationPrompt
	data["raise_exception"] = st.raiseException
	data["strftime_now"] = st.strftimeNow
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("%w: render panicked: %v", ErrTemplate, r)
		}
	}()
	out, err = tpl.ExecuteToString(exec.NewContext(data))
	if st.raised != nil {
		return "", st.raised
	}
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	return out, nil
}

// renderState holds what one Render's template functions share.
type renderState struct {
	now    func() time.Time
	raised *TemplateError
}

func (s *renderState) raiseException(args *exec.VarArgs) (any, error) {
	msg := ""
	if len(args.Args) > 0 {
		msg = args.Args[0].String()
	}
	if s.raised == nil {
		s.raised = &TemplateError{Message: msg}
	}
	return nil, s.raised
}

func (s *renderState) strftimeNow(args *exec.VarArgs) (any, error) {
	if len(args.Args) != 1 || !args.Args[0].IsString() {
		return nil, errors.New("strftime_now takes one format string")
	}
	return strftime(s.now(), args.Args[0].String()), nil
}

// Chat template files.
const (
	templateFile       = "chat_template.jinja"
	extraTemplatesDir  = "additional_chat_templates"
	templateConfigFile = configFile
)

// LoadTemplate reads the chat templates of a model folder the way
// transformers does: chat_template.jinja and additional_chat_templates/*.jinja
// when present, else tokenizer_config.json's chat_template (a string, or a
// list of {"name", "template"}). The special-token variables come from
// tokenizer_config.json. ErrNoChatTemplate when there is none.
func LoadTemplate(dir string) (*Template, error) {
	return loadTemplate(os.DirFS(dir), dir)
}

// LoadTemplateFS is LoadTemplate over a file system.
func LoadTemplateFS(fsys fs.FS) (*Template, error) {
	return loadTemplate(fsys, "")
}

func loadTemplate(fsys fs.FS, dir string) (*Template, error) {
	sources := map[string]string{}
	if data, err := fs.ReadFile(fsys, templateFile); err == nil {
		sources["default"] = string(data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load %s: %w", path.Join(dir, templateFile), err)
	}
	extra, _ := fs.Glob(fsys, extraTemplatesDir+"/*.jinja")
	for _, f := range extra {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path.Join(dir, f), err)
		}
		sources[strings.TrimSuffix(path.Base(f), ".jinja")] = string(data)
	}
	cfg, err := readOptional(fsys, templateConfigFile)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path.Join(dir, templateConfigFile), err)
	}
	vars, fromConfig, err := parseTemplateConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path.Join(dir, templateConfigFile), err)
	}
	if len(sources) == 0 {
		sources = fromConfig
	}
	if len(sources) == 0 {
		if dir == "" {
			return nil, ErrNoChatTemplate
		}
		return nil, fmt.Errorf("%s: %w", dir, ErrNoChatTemplate)
	}
	return NewTemplate(sources, vars)
}

// NewTemplate compiles chat templates (by name; "default" is the usual
// one) with the given extra variables (bos_token, ...).
func NewTemplate(sources map[string]string, vars map[string]any) (t *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%w: parse panicked: %v", ErrTemplate, r)
		}
	}()
	t = &Template{named: map[string]*exec.Template{}, vars: map[string]any{}}
	for k, v := range vars {
		t.vars[k] = v
	}
	for name, src := range sources {
		tpl, err := compileTemplate(src)
		if err != nil {
			return nil, fmt.Errorf("%w: template %q: %v", ErrTemplate, name, err)
		}
		t.named[name] = tpl
	}
	return t, nil
}

// specialTokenNames are the named special tokens transformers passes to
// templates (its special_tokens_map).
var specialTokenNames = []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}

// parseTemplateConfig reads the special-token variables and the chat
// templates of tokenizer_config.json (nil data: none).
func parseTemplateConfig(data []byte) (map[string]any, map[string]string, error) {
	vars := map[string]any{}
	sources := map[string]string{}
	if data == nil {
		return vars, sources, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, name := range specialTokenNames {
		s, ok, err := tokenContent(raw[name])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		if ok {
			vars[name] = s
		}
	}
	ct := raw["chat_template"]
	if isNull(ct) {
		return vars, sources, nil
	}
	var one string
	if err := json.Unmarshal(ct, &one); err == nil {
		sources["default"] = one
		return vars, sources, nil
	}
	var list []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(ct, &list); err != nil {
		return nil, nil, fmt.Errorf("chat_template is neither a string nor a list of {name, template}: %w", ErrInvalid)
	}
	for _, e := range list {
		sources[e.Name] = e.Template
	}
	return vars, sources, nil
}
