package anthropic

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// errorTypes maps an HTTP status to Anthropic's error type: the one table
// of this package.
var errorTypes = map[int]string{
	http.StatusBadRequest:            "invalid_request_error",
	http.StatusUnauthorized:          "authentication_error",
	http.StatusForbidden:             "permission_error",
	http.StatusNotFound:              "not_found_error",
	http.StatusMethodNotAllowed:      "invalid_request_error",
	http.StatusRequestTimeout:        "timeout_error",
	http.StatusConflict:              "invalid_request_error",
	http.StatusRequestEntityTooLarge: "request_too_large",
	http.StatusUnsupportedMediaType:  "invalid_request_error",
	http.StatusUnprocessableEntity:   "invalid_request_error",
	http.StatusTooManyRequests:       "rate_limit_error",
	499:                              "api_error",
	http.StatusInternalServerError:   "api_error",
	http.StatusServiceUnavailable:    "overloaded_error",
}

// Error is an API error: its status and Anthropic's body.
type Error struct {
	Status     int
	Type       string
	Message    string
	RetryAfter int // seconds; > 0 sets Retry-After
}

func (e *Error) Error() string { return e.Message }

// newError is an error of status with Anthropic's type for it.
func newError(status int, msg string) *Error {
	typ, ok := errorTypes[status]
	if !ok {
		typ = "api_error"
		if status < 500 {
			typ = "invalid_request_error"
		}
	}
	return &Error{Status: status, Type: typ, Message: msg}
}

func invalid(msg string) *Error { return newError(http.StatusBadRequest, msg) }

// fromChat converts the chat endpoint's error reply (OpenAI's shape).
func fromChat(status int, body []byte) *Error {
	var oe struct {
		Error struct {
			Message    string `json:"message"`
			RetryAfter int    `json:"retry_after"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &oe)
	msg := oe.Error.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := newError(status, msg)
	e.RetryAfter = oe.Error.RetryAfter
	return e
}

// errorDetail is the error member of Anthropic's error object.
type errorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// body is Anthropic's error object.
func (e *Error) body() any {
	return struct {
		Type  string      `json:"type"`
		Error errorDetail `json:"error"`
	}{"error", errorDetail{e.Type, e.Message}}
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, e.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers an error of status in Anthropic's shape (for a guard
// in front of the Server).
func WriteError(w http.ResponseWriter, status int, message string, retryAfter int) {
	e := newError(status, message)
	e.RetryAfter = retryAfter
	writeError(w, e)
}
