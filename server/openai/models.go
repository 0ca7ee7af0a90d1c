package openai

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// Engine is what the server needs of a model's engine.
type Engine interface {
	engine.Client
	MaxModelLen() int
}

// Model is one served model.
type Model struct {
	Name      string   // the id clients send in "model"
	Aliases   []string // further ids (--served-model-name)
	Engine    Engine
	Tokenizer *tokenizer.Tokenizer
	Template  *tokenizer.Template // nil: no chat endpoint for this model
	// ToolParser is the model's tool-call format; "" disables tools.
	ToolParser ToolParser
	// ReasoningParser splits the model's reasoning from its answer into
	// reasoning_content; "" leaves the output whole.
	ReasoningParser ReasoningParser
	// Defaults are the sampling parameters a request starts from (the
	// model's generation_config.json over OpenAI's defaults).
	Defaults sample.Params
	Created  time.Time
	OwnedBy  string
	// Backend names what runs the model ("cpu", "cuda", "fake"); with the
	// version and the name it makes the responses' system_fingerprint.
	Backend string

	fingerprint string

	longestOnce  sync.Once // tooLongToTokenize's bound
	longestToken int       // bytes of the vocabulary's longest token

	anchorOnce sync.Once // tokenText's context token
	anchor     int32
	anchorText string
	hasAnchor  bool
}

func (m *Model) validate() error {
	switch {
	case m.Name == "":
		return errors.New("model without a name")
	case m.Engine == nil:
		return fmt.Errorf("model %s: no engine", m.Name)
	case m.Tokenizer == nil:
		return fmt.Errorf("model %s: no tokenizer (the HTTP API needs one to turn text into ids)", m.Name)
	}
	return nil
}

func (m *Model) card(id string) modelCard {
	owner := m.OwnedBy
	if owner == "" {
		owner = "sota"
	}
	return modelCard{ID: id, Object: "model", Created: m.Created.Unix(), OwnedBy: owner, Root: m.Name,
		MaxModelLen: m.Engine.MaxModelLen()}
}

// tokenText is how a token reads in logprobs: its text where it stands
// mid-sequence (with the leading space a SentencePiece piece carries, which
// decoding it alone would strip), and its bytes.
func (m *Model) tokenText(id int32) (string, []int) {
	m.anchorOnce.Do(func() {
		if ids := m.Tokenizer.Encode("a", false); len(ids) > 0 {
			m.anchor = ids[len(ids)-1]
			m.anchorText = m.Tokenizer.Decode([]int32{m.anchor}, false)
			m.hasAnchor = m.anchorText != ""
		}
	})
	s, ok := "", false
	if m.hasAnchor {
		s, ok = strings.CutPrefix(m.Tokenizer.Decode([]int32{m.anchor, id}, false), m.anchorText)
	}
	if !ok {
		s = m.Tokenizer.Decode([]int32{id}, false)
	}
	raw := []byte(s)
	if strings.Contains(s, "\uFFFD") {
		// A byte-fallback token decodes alone to U+FFFD: its bytes are
		// the raw byte it stands for.
		if tb, ok := m.Tokenizer.TokenBytes(id); ok && !strings.Contains(string(tb), "\uFFFD") {
			raw = tb
		}
	}
	b := make([]int, len(raw))
	for i, c := range raw {
		b[i] = int(c)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	return s, b
}

// listModels answers GET /v1/models.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	list := modelList{Object: "list", Data: []modelCard{}}
	tier := recordFrom(r.Context()).principal.Tier
	for _, m := range s.models {
		for _, name := range append([]string{m.Name}, m.Aliases...) {
			if tier.AllowsModel(name) || tier.AllowsModel(m.Name) {
				list.Data = append(list.Data, m.card(name))
			}
		}
	}
	writeJSON(w, http.StatusOK, list)
}

// getModel answers GET /v1/models/{id}.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, ok := s.byName[id]
	if tier := recordFrom(r.Context()).principal.Tier; ok && !tier.AllowsModel(id) && !tier.AllowsModel(m.Name) {
		ok = false // a model outside the caller's tier is not shown to it
	}
	if !ok {
		writeError(w, classify(fmt.Errorf("%w: %q", errModelMissing, id), ""))
		return
	}
	writeJSON(w, http.StatusOK, m.card(id))
}
