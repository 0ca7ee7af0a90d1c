package tokenizer

import (
	"encoding/json"
	"fmt"
)

// template is what a post-processor does to the ids of a single sequence
// when special tokens are requested: ids before and after it.
type template struct {
	prefix, suffix []int32
}

// parsePostProcessor reduces the post_processor of tokenizer.json to the ids
// it adds around a single sequence. ByteLevel only adjusts offsets, which
// this package does not report, so it adds nothing.
func parsePostProcessor(raw json.RawMessage) (template, error) {
	var t template
	if isNull(raw) {
		return t, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return t, fmt.Errorf("post_processor: %w", err)
	}
	switch typ {
	case "Sequence":
		var v struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return t, fmt.Errorf("post_processor Sequence: %w: %v", ErrInvalid, err)
		}
		for _, r := range v.Processors {
			inner, err := parsePostProcessor(r)
			if err != nil {
				return t, err
			}
			t.prefix = append(append([]int32(nil), inner.prefix...), t.prefix...)
			t.suffix = append(t.suffix, inner.suffix...)
		}
		return t, nil
	case "ByteLevel":
		return t, nil
	case "TemplateProcessing":
		return parseTemplate(raw)
	case "BertProcessing", "RobertaProcessing":
		var v struct {
			Sep []json.RawMessage `json:"sep"`
			Cls []json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &v); err != nil || len(v.Sep) != 2 || len(v.Cls) != 2 {
			return t, fmt.Errorf("post_processor %s: %w: want sep and cls as [token, id]", typ, ErrInvalid)
		}
		var sep, cls int32
		if json.Unmarshal(v.Sep[1], &sep) != nil || json.Unmarshal(v.Cls[1], &cls) != nil {
			return t, fmt.Errorf("post_processor %s: %w: bad token id", typ, ErrInvalid)
		}
		return template{prefix: []int32{cls}, suffix: []int32{sep}}, nil
	}
	return t, fmt.Errorf("post_processor type %q: %w", typ, ErrUnsupported)
}

// parseTemplate reads TemplateProcessing's "single" template.
func parseTemplate(raw json.RawMessage) (template, error) {
	var t template
	var v struct {
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int32 `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return t, fmt.Errorf("post_processor TemplateProcessing: %w: %v", ErrInvalid, err)
	}
	seen := false
	for _, item := range v.Single {
		switch {
		case item.Sequence != nil:
			if seen || item.Sequence.ID != "A" {
				return t, fmt.Errorf("post_processor TemplateProcessing: single template with sequence %q: %w", item.Sequence.ID, ErrUnsupported)
			}
			seen = true
		case item.SpecialToken != nil:
			st, ok := v.SpecialTokens[item.SpecialToken.ID]
			if !ok {
				return t, fmt.Errorf("post_processor TemplateProcessing: special token %q not in special_tokens: %w", item.SpecialToken.ID, ErrInvalid)
			}
			if seen {
				t.suffix = append(t.suffix, st.IDs...)
			} else {
				t.prefix = append(t.prefix, st.IDs...)
			}
		default:
			return t, fmt.Errorf("post_processor TemplateProcessing: template item is neither SpecialToken nor Sequence: %w", ErrInvalid)
		}
	}
	if !seen {
		return t, fmt.Errorf("post_processor TemplateProcessing: single template without sequence A: %w", ErrUnsupported)
	}
	return t, nil
}
