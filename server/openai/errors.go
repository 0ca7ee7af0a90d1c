package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// Error is an API error in OpenAI's shape, with its HTTP status.
type Error struct {
	Status     int     `json:"-"`
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Param      *string `json:"param"`
	Code       any     `json:"code"`                  // a string, null, or (429) the status
	RetryAfter int     `json:"retry_after,omitempty"` // seconds, with 429, 408 and 503
}

func (e *Error) Error() string { return e.Message }

// Sentinels the handlers wrap.
var (
	errNotFound     = errors.New("not found")
	errModelMissing = errors.New("model not found")
	errDraining     = errors.New("server is shutting down")
	errNotReady     = errors.New("server is loading")
	errUnsupported  = errors.New("unsupported")
	errBodyRead     = errors.New("could not read the request body")
)

// unavailableRetryAfter is the back-off advised with a 503 (seconds).
const unavailableRetryAfter = 5

// invalid is a 400 about one request parameter.
func invalid(param, format string, args ...any) *Error {
	return apiError(http.StatusBadRequest, "invalid_request_error", param, "", fmt.Sprintf(format, args...))
}

func apiError(status int, typ, param, code, msg string) *Error {
	e := &Error{Status: status, Type: typ, Message: msg}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = code
	}
	return e
}

// classify is the one table from errors to API errors. param names the
// request field an engine-level error is about (the prompt or messages).
func classify(err error, promptParam string) *Error {
	var ae *Error
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var tmpl *tokenizer.TemplateError
	var rej *admission.Rejection
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, admission.ErrUnauthorized):
		return apiError(http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key", err.Error())
	case errors.As(err, &rej) && errors.Is(err, admission.ErrQueueFull):
		// The product's documented body: code is the status, retry_after in seconds.
		e := apiError(http.StatusTooManyRequests, "stream_capacity_exceeded", "", "", err.Error())
		e.Code, e.RetryAfter = http.StatusTooManyRequests, admission.RetrySeconds(rej.RetryAfter)
		return e
	case errors.As(err, &rej) && errors.Is(err, admission.ErrQueueTimeout):
		e := apiError(http.StatusRequestTimeout, "queue_timeout", "", "", err.Error())
		e.Code, e.RetryAfter = http.StatusRequestTimeout, admission.RetrySeconds(rej.RetryAfter)
		return e
	case errors.As(err, &tooBig):
		return apiError(http.StatusRequestEntityTooLarge, "invalid_request_error", "", "request_too_large",
			"request body larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes")
	case errors.Is(err, errBodyRead):
		// A malformed (e.g. chunked) body is the client's fault.
		return apiError(http.StatusBadRequest, "invalid_request_error", "", "", err.Error())
	case errors.As(err, &syntax), errors.Is(err, errBadJSON):
		return apiError(http.StatusBadRequest, "invalid_request_error", "", "", "malformed JSON body: "+err.Error())
	case errors.As(err, &typeErr):
		field := strings.TrimPrefix(typeErr.Field, "common.") // the embedded shared fields
		return apiError(http.StatusBadRequest, "invalid_request_error", field, "",
			fmt.Sprintf("%s: expected %s, got %s", field, jsonKind(typeErr.Type), typeErr.Value))
	case errors.Is(err, engine.ErrPromptTooLong):
		return apiError(http.StatusBadRequest, "invalid_request_error", promptParam, "context_length_exceeded", err.Error())
	case errors.Is(err, engine.ErrInvalidRequest), errors.Is(err, sample.ErrInvalidParams):
		return apiError(http.StatusBadRequest, "invalid_request_error", "", "", err.Error())
	case errors.As(err, &tmpl):
		// The conversation does not fit the model's template (roles out of
		// order, an unsupported role): well-formed but unprocessable.
		return apiError(http.StatusUnprocessableEntity, "invalid_request_error", "messages", "", tmpl.Message)
	case errors.Is(err, tokenizer.ErrNoChatTemplate):
		return apiError(http.StatusBadRequest, "invalid_request_error", "messages", "",
			"this model has no chat template: use /v1/completions, or serve it with --chat-template FILE")
	case errors.Is(err, errModelMissing):
		return apiError(http.StatusNotFound, "invalid_request_error", "model", "model_not_found", err.Error())
	case errors.Is(err, errNotFound):
		return apiError(http.StatusNotFound, "invalid_request_error", "", "not_found", err.Error())
	case errors.Is(err, errUnsupported):
		return apiError(http.StatusBadRequest, "invalid_request_error", "", "unsupported", err.Error())
	case errors.Is(err, errDraining), errors.Is(err, errNotReady), errors.Is(err, engine.ErrClosed),
		errors.Is(err, engine.ErrOverloaded):
		// Retry-After: a load balancer or SDK retries elsewhere or later.
		e := apiError(http.StatusServiceUnavailable, "service_unavailable", "", "", err.Error())
		e.RetryAfter = unavailableRetryAfter
		return e
	case errors.Is(err, engine.ErrAborted), errors.Is(err, context.Canceled):
		return apiError(499, "cancelled", "", "", err.Error()) // only logged: the client is gone
	default:
		// Backend failures, panics and anything unexpected.
		return apiError(http.StatusInternalServerError, "internal_error", "", "", err.Error())
	}
}

// errorBody is the JSON of an error response or SSE error event.
type errorBody struct {
	Error *Error `json:"error"`
}

// writeError sends err as a JSON error response.
func writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(errorBody{e})
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
