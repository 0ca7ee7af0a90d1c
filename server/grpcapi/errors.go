package grpcapi

import (
	"encoding/json"
	"net/http"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// errorDomain is the ErrorInfo domain of sota's errors.
const errorDomain = "sota"

// codeOf is the one table from the HTTP API's statuses to gRPC codes.
func codeOf(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusRequestTimeout: // the queue wait limit passed
		return codes.DeadlineExceeded
	case http.StatusTooManyRequests: // the tenant's queue is full
		return codes.ResourceExhausted
	case 499: // the client went away
		return codes.Canceled
	case http.StatusServiceUnavailable: // draining, loading, engine overloaded or closed
		return codes.Unavailable
	case http.StatusInternalServerError:
		return codes.Internal
	}
	return codes.Unknown
}

// replyError turns the HTTP API's error reply into a status: its code,
// message, an ErrorInfo (reason: the error type; metadata: the param) and,
// with a retry_after, a RetryInfo.
func replyError(r Reply) error {
	var body struct {
		Error struct {
			Message    string  `json:"message"`
			Type       string  `json:"type"`
			Param      *string `json:"param"`
			RetryAfter int     `json:"retry_after"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &body)
	e := body.Error
	code := codeOf(r.Status)
	if e.Message == "" {
		e.Message = http.StatusText(r.Status)
	}
	param := ""
	if e.Param != nil {
		param = *e.Param
	}
	st := status.New(code, e.Message)
	details := []protoadapt.MessageV1{errorInfo(e.Type, param)}
	if e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(e.RetryAfter) * time.Second)})
	}
	if withD, err := st.WithDetails(details...); err == nil {
		st = withD
	}
	return st.Err()
}

// errorInfo is the ErrorInfo detail of an error of type typ (about param).
func errorInfo(typ, param string) *errdetails.ErrorInfo {
	info := &errdetails.ErrorInfo{Reason: typ, Domain: errorDomain}
	if param != "" {
		info.Metadata = map[string]string{"param": param}
	}
	return info
}
