package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageError is a mistake in how minilm was called (a bad flag value, an
// unreadable input name, a CSV header without the needed columns): exit
// status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSpec is a subcommand's flag set with its help text.
type flagSpec struct {
	fs       *flag.FlagSet
	synopsis string // "minilm score [flags] [FILE ...|-]"
	about    string // what the command does, shown between synopsis and flags
}

func newFlagSpec(name, synopsis, about string) *flagSpec {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself, in minilm's format
	fs.Usage = func() {}
	return &flagSpec{fs: fs, synopsis: synopsis, about: about}
}

// printUsage writes the help: synopsis, explanation, flags.
func (f *flagSpec) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", f.synopsis, strings.TrimSpace(f.about))
	fmt.Fprintf(w, "\nFlags:\n")
	// A one-letter flag whose usage is "short for --long" is shown with it.
	short := map[string]string{}
	isShort := func(fl *flag.Flag) (string, bool) {
		long, ok := strings.CutPrefix(fl.Usage, "short for --")
		return long, ok && len(fl.Name) == 1
	}
	f.fs.VisitAll(func(fl *flag.Flag) {
		if long, ok := isShort(fl); ok {
			short[long] = fl.Name
		}
	})
	f.fs.VisitAll(func(fl *flag.Flag) {
		if _, ok := isShort(fl); ok {
			return
		}
		arg, usage := flag.UnquoteUsage(fl)
		head := "--" + fl.Name
		if s, ok := short[fl.Name]; ok {
			head = "-" + s + ", " + head
		}
		if arg != "" {
			head += " " + arg
		}
		fmt.Fprintf(w, "  %s\n", head)
		for _, l := range strings.Split(usage, "\n") {
			fmt.Fprintf(w, "        %s\n", l)
		}
		if d := fl.DefValue; d != "" && d != "0" && d != "false" {
			fmt.Fprintf(w, "        (default %s)\n", d)
		}
	})
}

// parse parses args, accepting flags before, between and after positional
// arguments (`minilm score in.jsonl --model m`); "--" ends the flags. On
// -h/--help it prints the help to stdout and returns done with status 0; on a
// bad flag it prints the error to stderr and returns done with status 2.
func (f *flagSpec) parse(std stdio, args []string) (pos []string, status int, done bool) {
	for {
		err := f.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printUsage(std.out)
			return nil, exitOK, true
		}
		if err != nil {
			fmt.Fprintf(std.err, "minilm %s: %v\nRun 'minilm help %s' for usage.\n", f.fs.Name(), err, f.fs.Name())
			return nil, exitUsage, true
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			return pos, exitOK, false
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(pos, rest...), exitOK, false
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
