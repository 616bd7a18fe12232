package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/minilm-dev/minilm/tokenizer"
)

// ErrOption is matched (errors.Is) by every *OptionError.
var ErrOption = errors.New("engine: invalid option")

// OptionError is an option value out of range. Field is the Options (or
// RankOptions, ScoreOptions) field, Allowed the values it takes, so that a
// caller can say it in its own terms (a command-line flag).
type OptionError struct {
	Field   string // "Options.MaxLength"
	Value   any
	Allowed string // "0 (the model's limit) or 5..512"
}

func (e *OptionError) Error() string {
	v := fmt.Sprint(e.Value)
	if s, ok := e.Value.(string); ok {
		v = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("engine: %s %s: want %s", e.Field, v, e.Allowed)
}

// Is makes errors.Is(err, ErrOption) true.
func (e *OptionError) Is(target error) bool { return target == ErrOption }

// Backends are the values Options.Backend takes ("" means auto).
var Backends = []string{"auto", "cpu", "metal"}

// MinMaxLength is the smallest Options.MaxLength: the 3 special tokens of a
// pair plus one token each of query and passage. Below it every pair would
// be cut to the same tokens and get the same score.
const MinMaxLength = 5

// Truncation is how a pair over MaxLength is cut (tokenizer.Truncation,
// re-exported so that callers need only this package).
type Truncation = tokenizer.Truncation

const (
	// LongestFirst cuts the longer side first, as Hugging Face does.
	LongestFirst = tokenizer.LongestFirst
	// OnlySecond cuts only the passage; a query that does not fit on its own
	// is an error wrapping ErrInput.
	OnlySecond = tokenizer.OnlySecond
)

// LengthError is the tokenizer's account of a pair that cannot be cut to
// MaxLength (errors.As finds it under the ErrInput of Tokenize and Score).
type LengthError = tokenizer.LengthError

// validate checks the options that do not depend on the model; the model's
// limits (MaxLength) are checked by CheckMaxLength once its config is read.
func (o *Options) validate() error {
	if o.Backend != "" && !contains(Backends, o.Backend) {
		return &OptionError{Field: "Options.Backend", Value: o.Backend, Allowed: quoteList(Backends) + ` (or "")`}
	}
	if o.Threads < 0 {
		return &OptionError{Field: "Options.Threads", Value: o.Threads, Allowed: "0 (one per CPU) or more"}
	}
	if o.MaxTokensPerBatch < 0 {
		return &OptionError{Field: "Options.MaxTokensPerBatch", Value: o.MaxTokensPerBatch, Allowed: fmt.Sprintf("0 (%d) or more", DefaultMaxTokensPerBatch)}
	}
	if o.MaxLength < 0 {
		return &OptionError{Field: "Options.MaxLength", Value: o.MaxLength, Allowed: fmt.Sprintf("0 (the model's limit) or at least %d", MinMaxLength)}
	}
	if o.Truncation != LongestFirst && o.Truncation != OnlySecond {
		return &OptionError{Field: "Options.Truncation", Value: o.Truncation, Allowed: "LongestFirst or OnlySecond"}
	}
	if _, err := o.Activation.MarshalText(); err != nil {
		return &OptionError{Field: "Options.Activation", Value: o.Activation, Allowed: "ActivationAuto, ActivationRaw or ActivationSigmoid"}
	}
	return nil
}

// CheckMaxLength checks a MaxLength against a model's positions as Load
// does (an *OptionError for Options.MaxLength), for tools that truncate with
// the tokenizer alone.
func CheckMaxLength(n, positions int) error {
	if n == 0 || (n >= MinMaxLength && n <= positions) {
		return nil
	}
	return &OptionError{Field: "Options.MaxLength", Value: n,
		Allowed: fmt.Sprintf("0 (the model's limit) or %d..%d (the model has %d positions)", MinMaxLength, positions, positions)}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quoteList writes "a", "b" or "c".
func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

var activationNames = [...]string{ActivationAuto: "auto", ActivationRaw: "raw", ActivationSigmoid: "sigmoid"}

// String is the activation's name: auto, raw or sigmoid.
func (a Activation) String() string {
	if a >= 0 && int(a) < len(activationNames) {
		return activationNames[a]
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// MarshalText writes the name (auto, raw, sigmoid), so Info reads well as JSON.
func (a Activation) MarshalText() ([]byte, error) {
	if a < 0 || int(a) >= len(activationNames) {
		return nil, fmt.Errorf("engine: unknown activation %d", int(a))
	}
	return []byte(activationNames[a]), nil
}

// UnmarshalText reads auto, raw or sigmoid: flags (flag.TextVar) and JSON
// share one spelling.
func (a *Activation) UnmarshalText(b []byte) error {
	for i, n := range activationNames {
		if string(b) == n {
			*a = Activation(i)
			return nil
		}
	}
	return fmt.Errorf("engine: unknown activation %q (want auto, raw or sigmoid)", b)
}

// kindError is a message that matches sentinel kinds (errors.Is) and
// causes (errors.As) without printing the sentinels: the message already
// says what went wrong, once.
type kindError struct {
	msg   string
	kinds []error
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Unwrap() []error { return e.kinds }

// inputErrorf formats an ErrInput error; cause (when not nil) stays
// reachable for errors.As.
func inputErrorf(cause error, format string, args ...any) error {
	return kindErrorf(ErrInput, cause, format, args...)
}

// modelErrorf formats an ErrModel error.
func modelErrorf(format string, args ...any) error {
	return kindErrorf(ErrModel, nil, format, args...)
}

func kindErrorf(kind, cause error, format string, args ...any) error {
	kinds := []error{kind}
	if cause != nil {
		kinds = append(kinds, cause)
	}
	return &kindError{msg: fmt.Sprintf(format, args...), kinds: kinds}
}
