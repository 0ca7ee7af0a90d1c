package bench

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// API is the request shape a target speaks.
type API int

const (
	Completions API = iota // /v1/completions: "prompt", choices[].text
	Chat                   // /v1/chat/completions: "messages", choices[].delta.content
)

func (a API) String() string {
	if a == Chat {
		return "chat"
	}
	return "completions"
}

// Target is one server under test.
type Target struct {
	Name     string // shown in reports; defaults to the base URL's host
	BaseURL  string // e.g. http://127.0.0.1:8080 (a trailing /v1 is fine)
	Endpoint string // e.g. /v1/completions or /v1/chat/completions
	Model    string
	APIKey   string            // sent as a bearer token unless a tenant brings its own
	Headers  map[string]string // extra request headers
}

// ErrConfig marks an invalid configuration.
var ErrConfig = errors.New("invalid configuration")

// URL joins the base URL and the endpoint; a base ending in /v1 and an
// endpoint starting with /v1/ share the /v1.
func (t Target) URL() (string, error) {
	u, err := url.Parse(t.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%w: target %q: base URL %q is not an absolute URL", ErrConfig, t.Name, t.BaseURL)
	}
	base := strings.TrimSuffix(t.BaseURL, "/")
	ep := "/" + strings.TrimPrefix(t.Endpoint, "/")
	if strings.HasSuffix(base, "/v1") && strings.HasPrefix(ep, "/v1/") {
		ep = strings.TrimPrefix(ep, "/v1")
	}
	return base + ep, nil
}

// API infers the request shape from the endpoint.
func (t Target) API() API {
	if strings.Contains(t.Endpoint, "chat/completions") {
		return Chat
	}
	return Completions
}

// DisplayName is Name, or the base URL's host when Name is empty.
func (t Target) DisplayName() string {
	if t.Name != "" {
		return t.Name
	}
	if u, err := url.Parse(t.BaseURL); err == nil && u.Host != "" {
		return u.Host
	}
	return t.BaseURL
}

// Validate checks the target.
func (t Target) Validate() error {
	if _, err := t.URL(); err != nil {
		return err
	}
	if t.Endpoint == "" {
		return fmt.Errorf("%w: target %q has no endpoint", ErrConfig, t.DisplayName())
	}
	return nil
}
