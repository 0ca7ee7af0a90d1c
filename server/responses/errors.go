package responses

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// errorTypes maps a status to the OpenAI error type and code of this
// package's own errors: its one table (the chat endpoint's errors pass
// through as they are).
var errorTypes = map[int][2]string{
	http.StatusBadRequest:            {"invalid_request_error", "invalid_request"},
	http.StatusUnauthorized:          {"invalid_request_error", "invalid_api_key"},
	http.StatusNotFound:              {"invalid_request_error", "not_found"},
	http.StatusRequestEntityTooLarge: {"invalid_request_error", "request_too_large"},
	http.StatusInternalServerError:   {"internal_error", "internal_error"},
	http.StatusServiceUnavailable:    {"service_unavailable", "service_unavailable"},
}

// Error is an API error in OpenAI's shape.
type Error struct {
	Status     int     `json:"-"`
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Param      *string `json:"param"`
	Code       any     `json:"code"`
	RetryAfter int     `json:"retry_after,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func newError(status int, param, msg string) *Error {
	t, ok := errorTypes[status]
	if !ok {
		t = [2]string{"invalid_request_error", ""}
		if status >= 500 {
			t = [2]string{"internal_error", ""}
		}
	}
	e := &Error{Status: status, Message: msg, Type: t[0]}
	if t[1] != "" {
		e.Code = t[1]
	}
	if param != "" {
		e.Param = &param
	}
	return e
}

func invalid(param, msg string) *Error { return newError(http.StatusBadRequest, param, msg) }

// fromChat reads the chat endpoint's error reply (the same shape).
func fromChat(status int, body []byte) *Error {
	var b struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(body, &b) != nil || b.Error == nil || b.Error.Message == "" {
		return newError(status, "", http.StatusText(status))
	}
	b.Error.Status = status
	return b.Error
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, map[string]any{"error": e})
}

// WriteError answers an error of status in OpenAI's shape (for a guard in
// front of the Server).
func WriteError(w http.ResponseWriter, status int, message string, retryAfter int) {
	e := newError(status, "", message)
	e.RetryAfter = retryAfter
	writeError(w, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
