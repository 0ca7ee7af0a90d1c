package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// A normalizer rewrites the text of one segment (the text between added
// tokens) before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

type prependNormalizer struct{ prefix string }

// normalize prepends the prefix to non-empty text (Llama 2's "▁").
func (p prependNormalizer) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

type replaceNormalizer struct{ old, new string }

func (r replaceNormalizer) normalize(s string) string {
	if r.old == "" {
		return s
	}
	return strings.ReplaceAll(s, r.old, r.new)
}

type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(s string) string { return u.form.String(s) }

type sequenceNormalizer []normalizer

func (q sequenceNormalizer) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// componentType reads the "type" field of a component object.
func componentType(raw json.RawMessage) (string, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return head.Type, nil
}

// isNull reports whether a component is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// stringPattern reads a {"String": "..."} pattern; a Regex pattern is
// unsupported where only literal replacement is implemented.
func stringPattern(raw json.RawMessage, where string) (string, error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("%s pattern: %w: %v", where, ErrInvalid, err)
	}
	switch {
	case p.String != nil:
		return *p.String, nil
	case p.Regex != nil:
		return "", fmt.Errorf("%s: regex pattern %q: %w", where, *p.Regex, ErrUnsupported)
	}
	return "", fmt.Errorf("%s: pattern has neither String nor Regex: %w", where, ErrInvalid)
}

// parseNormalizer builds the normalizer of tokenizer.json; nil means none.
func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch typ {
	case "Sequence":
		var v struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("normalizer Sequence: %w: %v", ErrInvalid, err)
		}
		var seq sequenceNormalizer
		for _, r := range v.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "Prepend":
		var v struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("normalizer Prepend: %w: %v", ErrInvalid, err)
		}
		return prependNormalizer{v.Prepend}, nil
	case "Replace":
		var v struct {
			Pattern json.RawMessage `json:"pattern"`
			Content string          `json:"content"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w: %v", ErrInvalid, err)
		}
		old, err := stringPattern(v.Pattern, "normalizer Replace")
		if err != nil {
			return nil, err
		}
		return replaceNormalizer{old, v.Content}, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	}
	return nil, fmt.Errorf("normalizer type %q: %w", typ, ErrUnsupported)
}
