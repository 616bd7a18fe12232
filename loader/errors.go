package loader

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinel errors. Every error this package returns that is caused by the
// model's files wraps one of them (or an fs error such as fs.ErrNotExist), so
// callers can branch with errors.Is while the message says what went wrong.
var (
	// ErrCorrupt marks a file that is malformed: a truncated or inconsistent
	// safetensors file, invalid JSON, a config with impossible values.
	ErrCorrupt = errors.New("corrupt file")
	// ErrUnsupported marks a well-formed model that asks for something this
	// project does not implement: an architecture, activation, dtype, label count.
	ErrUnsupported = errors.New("unsupported")
	// ErrNotCached marks a repository id (and revision) that is not in the
	// local Hugging Face cache, or only partly there.
	ErrNotCached = errors.New("model not in the local Hugging Face cache")
	// ErrNoTensor marks a lookup of a tensor name the weights file does not hold.
	ErrNoTensor = errors.New("no such tensor")
)

// corruptf reports what is wrong with file, wrapping ErrCorrupt.
func corruptf(file, format string, args ...any) error {
	return fmt.Errorf("loader: %s: %w: %s", file, ErrCorrupt, fmt.Sprintf(format, args...))
}

// unsupportedf reports what in file this project does not implement, wrapping ErrUnsupported.
func unsupportedf(file, format string, args ...any) error {
	return fmt.Errorf("loader: %s: %w %s", file, ErrUnsupported, fmt.Sprintf(format, args...))
}

// notExistf reports a model that is not where the reference points. It
// matches fs.ErrNotExist without printing it: the message already says so.
func notExistf(format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: fs.ErrNotExist}
}

// kindError is a message that matches a sentinel (errors.Is) which it does
// not repeat.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
