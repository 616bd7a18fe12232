package server

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error types, as text-embeddings-inference names them in its error body.
const (
	typeValidation   = "validation"
	typeEmpty        = "empty"
	typeTokenizer    = "tokenizer"
	typeBackend      = "backend"
	typeOverloaded   = "overloaded"
	typeUnhealthy    = "unhealthy"
	typeUnauthorized = "unauthorized"
	typeNotFound     = "not_found"
)

// apiError is a failed request: its status, its body's error_type, and the
// reason it is counted under in minilm_request_failures_total.
type apiError struct {
	status int
	kind   string
	reason string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func newError(status int, kind, reason, format string, args ...any) *apiError {
	return &apiError{status: status, kind: kind, reason: reason, msg: fmt.Sprintf(format, args...)}
}

func validation(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, typeValidation, "validation", format, args...)
}

// errorBody is text-embeddings-inference's error JSON.
type errorBody struct {
	Error     string `json:"error"`
	ErrorType string `json:"error_type"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="minilm"`)
	}
	if e.status == http.StatusServiceUnavailable || e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, errorBody{Error: e.msg, ErrorType: e.kind})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every response type here marshals; a failure is a bug worth a 500.
		http.Error(w, `{"error":"encode response","error_type":"backend"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
