package main

import (
	"context"
	"io"
)

// Exit statuses shared by every subcommand.
const (
	exitOK          = 0
	exitFailure     = 1   // runtime failure
	exitUsage       = 2   // bad flags or bad input
	exitInterrupted = 130 // Ctrl-C / SIGTERM
)

// stdio is what a subcommand may touch of the process: its streams, and
// whether stderr is a terminal (for progress bars).
type stdio struct {
	in            io.Reader
	out, err      io.Writer
	errIsTerminal bool
}

// command is one `minilm NAME` subcommand. run parses args itself (a
// flag.FlagSet named after the command), prints its own errors to io.err as
// "minilm: ..." and returns the exit status.
type command struct {
	name    string
	summary string // one line, shown by `minilm --help`
	hidden  bool   // internal commands (worker) are not listed
	run     func(ctx context.Context, io stdio, args []string) int
}
