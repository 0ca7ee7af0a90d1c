package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/sotasystems/sota/store"
)

// apiErr is an error in OpenAI's shape with its HTTP status.
type apiErr struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiErr) Error() string { return e.Message }

func apiError(status int, typ, param, code, msg string) *apiErr {
	e := &apiErr{Status: status, Type: typ, Message: msg}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = &code
	}
	return e
}

// invalid is a 400 about one request field.
func invalid(param, format string, args ...any) *apiErr {
	return apiError(http.StatusBadRequest, "invalid_request_error", param, "", fmt.Sprintf(format, args...))
}

func notFound(format string, args ...any) *apiErr {
	return apiError(http.StatusNotFound, "invalid_request_error", "", "not_found", fmt.Sprintf(format, args...))
}

func conflict(param, format string, args ...any) *apiErr {
	return apiError(http.StatusConflict, "invalid_request_error", param, "conflict", fmt.Sprintf(format, args...))
}

// internal is a 500 whose cause is logged, not sent.
var internal = apiError(http.StatusInternalServerError, "internal_error", "", "", "internal error; see the server log")

type errorBody struct {
	Error *apiErr `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiErr) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(errorBody{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// storeError maps a store error to an API error, logging what is not the
// caller's fault. what names the operation for the log.
func (s *server) storeError(r *http.Request, what string, err error) *apiErr {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("%v", err)
	case errors.Is(err, store.ErrExists):
		return conflict("", "%v", err)
	case errors.Is(err, store.ErrInvalid):
		return invalid("", "%v", err)
	}
	s.log.ErrorContext(r.Context(), "admin: "+what, "method", r.Method, "path", r.URL.Path, "err", err)
	return internal
}

// decodeBody reads one JSON object of at most maxBody bytes into v,
// refusing unknown fields and trailing data.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiErr {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return apiError(http.StatusRequestEntityTooLarge, "invalid_request_error", "", "request_too_large",
			"request body larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes")
	case err != nil:
		return invalid("", "reading the request body: %v", err)
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes one JSON object into v (a pointer to a struct).
func decodeJSON(body []byte, v any) *apiErr {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("", "empty request body: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, e := dec.Token(); e != io.EOF {
			return invalid("", "malformed JSON body: data after the object")
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("", "malformed JSON body: %v", err)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return invalid("", "request body must be a JSON object, not %s", typeErr.Value)
		}
		return invalid(typeErr.Field, "%s: expected %s, got %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	default:
		// Unknown fields ("json: unknown field \"x\"") and the rest.
		return invalid("", "invalid JSON body: %v", err)
	}
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
