package openai

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Hand-written encoders for the stream chunks every token produces: the
// same bytes encoding/json writes (tests compare them), without reflection
// or allocation. Chunks they do not cover (logprobs, tool calls, reasoning)
// fall back to encoding/json.

// appendChunk appends v's JSON when v is a chunk shape covered here.
func appendChunk(dst []byte, v any) ([]byte, bool) {
	switch c := v.(type) {
	case completion:
		if len(c.Choices) != 1 || c.Choices[0].Logprobs != nil || !simpleUsage(c.Usage) {
			return dst, false
		}
		ch := &c.Choices[0]
		dst = appendHead(dst, c.ID, c.Object, c.Created, c.Model, c.SystemFingerprint)
		dst = append(dst, `,"choices":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(ch.Index), 10)
		dst = append(dst, `,"text":`...)
		dst = appendJSONString(dst, ch.Text)
		dst = append(dst, `,"logprobs":null,"finish_reason":`...)
		dst = appendNullableString(dst, ch.FinishReason)
		dst = append(dst, "}]"...)
		return appendUsageNull(dst, c.Usage), true
	case chatChunk:
		if len(c.Choices) != 1 || !simpleUsage(c.Usage) {
			return dst, false
		}
		ch := &c.Choices[0]
		d := &ch.Delta
		if ch.Logprobs != nil || d.ReasoningContent != nil || d.ToolCalls != nil {
			return dst, false
		}
		dst = appendHead(dst, c.ID, c.Object, c.Created, c.Model, c.SystemFingerprint)
		dst = append(dst, `,"choices":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(ch.Index), 10)
		dst = append(dst, `,"delta":{`...)
		sep := false
		if d.Role != "" {
			dst = append(dst, `"role":`...)
			dst = appendJSONString(dst, d.Role)
			sep = true
		}
		if d.Content != nil {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"content":`...)
			dst = appendJSONString(dst, *d.Content)
		}
		dst = append(dst, `},"logprobs":null,"finish_reason":`...)
		dst = appendNullableString(dst, ch.FinishReason)
		dst = append(dst, "}]"...)
		return appendUsageNull(dst, c.Usage), true
	}
	return dst, false
}

// simpleUsage: the chunk's usage is absent or the literal null.
func simpleUsage(u any) bool {
	if u == nil {
		return true
	}
	raw, ok := u.(json.RawMessage)
	return ok && string(raw) == "null"
}

func appendHead(dst []byte, id, object string, created int64, model, fingerprint string) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"object":`...)
	dst = appendJSONString(dst, object)
	dst = append(dst, `,"created":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, model)
	dst = append(dst, `,"system_fingerprint":`...)
	return appendJSONString(dst, fingerprint)
}

func appendUsageNull(dst []byte, u any) []byte {
	if u != nil {
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, '}')
}

func appendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, *s)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s exactly as encoding/json does (HTML-safe:
// <, > and & escaped; invalid UTF-8 as U+FFFD; U+2028 and U+2029 escaped).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
