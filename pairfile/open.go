package pairfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrInputs is in the errors of Open and Sniff about the inputs themselves
// rather than their records: a file that cannot be opened, stdin twice, an
// unknown extension, inputs of different formats.
var ErrInputs = errors.New("pairfile: unusable inputs")

// inputsError is an ErrInputs that prints as its message alone.
type inputsError struct{ msg string }

func (e *inputsError) Error() string        { return e.msg }
func (e *inputsError) Is(target error) bool { return target == ErrInputs }

func inputsErrorf(format string, args ...any) error {
	return &inputsError{fmt.Sprintf(format, args...)}
}

// Open opens the named inputs ("-" is stdin, at most once) and tells their
// formats: forced (a --format value) for all, else by extension, stdin's
// later from its first line (Sniff). sizes[i] is the size of a regular
// file, -1 otherwise. Close closes them.
func Open(names []string, forced string, stdin io.Reader) ([]Input, []int64, error) {
	var inputs []Input
	var sizes []int64
	stdinSeen := false
	for _, name := range names {
		in := Input{Name: name}
		switch {
		case forced != "":
			in.Format, _ = ParseFormat(forced)
		case name == "-":
			in.Format = Sniffed
		default:
			fm, ok := FormatOf(name)
			if !ok {
				Close(inputs)
				return nil, nil, inputsErrorf("%s: cannot tell the format from the extension; use --format jsonl, tsv or csv", name)
			}
			in.Format = fm
		}
		size := int64(-1)
		if name == "-" {
			if stdinSeen {
				Close(inputs)
				return nil, nil, inputsErrorf("stdin (-) given twice")
			}
			stdinSeen = true
			in.Name, in.R = "<stdin>", stdin
		} else {
			fh, err := os.Open(name)
			if err == nil {
				var st os.FileInfo
				if st, err = fh.Stat(); err == nil && st.IsDir() {
					err = errors.New("is a directory")
				} else if err == nil && st.Mode().IsRegular() {
					size = st.Size()
				}
				if err != nil {
					fh.Close()
				}
			}
			if err != nil {
				Close(inputs)
				return nil, nil, inputsErrorf("input %s: %v", name, UnwrapPathError(err))
			}
			in.R = fh
		}
		inputs = append(inputs, in)
		sizes = append(sizes, size)
	}
	if err := sameFormat(inputs); err != nil {
		Close(inputs)
		return nil, nil, err
	}
	return inputs, sizes, nil
}

// sameFormat refuses inputs of different formats: their records would go
// into one output stream in mixed layouts.
func sameFormat(inputs []Input) error {
	first := -1
	for i, in := range inputs {
		if in.Format == Sniffed {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		if a := inputs[first]; in.Format != a.Format {
			return inputsErrorf("inputs of different formats: %s is %s, %s is %s; score them in separate runs (the output keeps one layout)",
				a.Name, a.Format, in.Name, in.Format)
		}
	}
	return nil
}

// Sniff tells stdin's format from its first non-blank line (see
// SniffFormat), for inputs Open left to it.
func Sniff(inputs []Input) error {
	for i := range inputs {
		in := &inputs[i]
		if in.Format != Sniffed {
			continue
		}
		br := bufio.NewReaderSize(in.R, 1<<16)
		in.R = br
		fm, err := SniffFormat(br, in.Name)
		if err != nil {
			return err
		}
		in.Format = fm
	}
	return sameFormat(inputs)
}

// Close closes the files Open opened.
func Close(inputs []Input) {
	for _, in := range inputs {
		if c, ok := in.R.(*os.File); ok && in.Name != "<stdin>" {
			c.Close()
		}
	}
}

// UnwrapPathError drops the operation and path that an *fs.PathError
// repeats, for messages that name the path themselves.
func UnwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
