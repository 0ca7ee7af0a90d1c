package openai

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
)

// Defaults of the guard's limits.
const (
	defaultBodyReadTimeout = 30 * time.Second
	defaultMaxSequences    = 256
)

// checkHost refuses a request whose Host is not one the server answers to
// (a web page that rebinds its DNS name to this address cannot read our
// answers). AllowedHosts empty: any host.
func (s *Server) checkHost(r *http.Request) *Error {
	if len(s.cfg.AllowedHosts) == 0 {
		return nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	for _, a := range s.cfg.AllowedHosts {
		if a == "*" || strings.EqualFold(a, host) {
			return nil
		}
	}
	return apiError(http.StatusMisdirectedRequest, "invalid_request_error", "", "host_not_allowed",
		fmt.Sprintf("this server does not answer to the host %q (serve with --allowed-hosts to add it)", host))
}

// checkContentType requires JSON on request bodies: browsers send
// text/plain and form bodies across origins without asking, JSON they do
// not. A body without a Content-Type is read as JSON.
func checkContentType(r *http.Request) *Error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return apiError(http.StatusUnsupportedMediaType, "invalid_request_error", "", "unsupported_media_type",
		fmt.Sprintf("Content-Type %q: send application/json", ct))
}

// deadlineBody reads a request body under a read deadline, lifted when the
// whole body has been read (a deadline left on the connection would cut the
// response's close detection later). After a failed read it stays, so the
// server's discarding of the unread rest fails fast and the connection
// closes.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// withBodyDeadline bounds how long the client may take to send the body.
func (s *Server) withBodyDeadline(w http.ResponseWriter, r *http.Request) {
	d := s.cfg.BodyReadTimeout
	if d < 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) != nil {
		return // not a real connection (tests' recorders)
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
}

// checkSequences bounds the sequences one request may queue (prompts × n).
func (s *Server) checkSequences(prompts, n int) *Error {
	if limit := s.cfg.MaxSequencesPerRequest; prompts*n > limit {
		param := "n"
		if prompts > 1 {
			param = "prompt"
		}
		return invalid(param, "%d prompts × n = %d make %d sequences: at most %d per request",
			prompts, n, prompts*n, limit)
	}
	return nil
}

// tooLongToTokenize refuses text that cannot fit the context whatever its
// tokens, before spending the tokenizer on it: no token is longer than
// the vocabulary's longest.
func (m *Model) tooLongToTokenize(n int, param string) *Error {
	m.longestOnce.Do(func() {
		for id := range int32(m.Tokenizer.VocabSize()) {
			if b, ok := m.Tokenizer.TokenBytes(id); ok {
				m.longestToken = max(m.longestToken, len(b))
			}
		}
		m.longestToken = max(m.longestToken, 1)
	})
	ctxLen := m.Engine.MaxModelLen()
	if n <= ctxLen*m.longestToken {
		return nil
	}
	return apiError(http.StatusBadRequest, "invalid_request_error", param, "context_length_exceeded",
		fmt.Sprintf("the %s has %d bytes: more than the model's context of %d tokens can hold", param, n, ctxLen))
}

// budgetPiece is how much text overTokenBudget encodes at a time.
const budgetPiece = 64 << 10

// overTokenBudget reports whether text surely has more than limit tokens,
// encoding it piece by piece and stopping as soon as it knows: a prompt of
// megabytes costs the tokenizer about one context's worth, not all of it.
// Pieces are cut at spaces; a cut adds at most a few tokens (a split word,
// a prefix space marker), so count − 4·cuts > limit implies the whole does.
// Text of one piece is left to the exact encode.
func (m *Model) overTokenBudget(text string, limit int) bool {
	if len(text) <= budgetPiece {
		return false
	}
	count, cuts := 0, 0
	for len(text) > 0 {
		n := min(budgetPiece, len(text))
		if n < len(text) {
			if i := strings.LastIndexByte(text[:n], ' '); i > 0 {
				n = i
			}
		}
		count += len(m.Tokenizer.Encode(text[:n], false))
		text = text[n:]
		if count-4*cuts > limit {
			return true
		}
		cuts++
	}
	return false
}

// tooManyTokens is the 400 of a text over the context's token budget.
func (m *Model) tooManyTokens(text, param string) *Error {
	if !m.overTokenBudget(text, m.Engine.MaxModelLen()) {
		return nil
	}
	return apiError(http.StatusBadRequest, "invalid_request_error", param, "context_length_exceeded",
		fmt.Sprintf("the %s has more tokens than the model's context of %d", param, m.Engine.MaxModelLen()))
}

// errCut is the cause given to requests still running when the drain
// timeout passes.
var errCut = fmt.Errorf("%w: the drain timeout passed before this request finished", errDraining)

// Cut ends the requests still running (after the drain timeout): a stream
// gets an error event and [DONE]. It returns how many were running.
func (s *Server) Cut() int {
	n := int(s.running.Load())
	s.cut(errCut)
	return n
}

// cutContext derives a request's context that Cut ends.
func (s *Server) cutContext(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.cutCtx, func() { cancel(context.Cause(s.cutCtx)) })
	return ctx, func() { stop(); cancel(nil) }
}

// cause is the reason ctx ended when it is the server's own (Cut), else err.
func cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c == errCut {
		return c
	}
	return err
}
