package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/term"
)

const intro = `minilm scores query/passage pairs with a cross-encoder reranker
(cross-encoder/ms-marco-MiniLM-L-6-v2 by default), in pure Go.

The main job: give it a file of pairs, get every record back with a score,
in input order, streaming, whatever the file's size:

  minilm score pairs.jsonl -o scored.jsonl      {"query":..,"passage":..} → adds "score"
  minilm score pairs.tsv > scored.tsv           query<TAB>passage → adds <TAB>score
  minilm rerank --query "what is go?" docs.txt  documents sorted by score`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal the command winds down and flushes; a
		// second one gets the default behaviour (immediate exit).
		<-ctx.Done()
		stop()
	}()
	std := stdio{
		in:            os.Stdin,
		out:           os.Stdout,
		err:           os.Stderr,
		errIsTerminal: term.IsTerminal(int(os.Stderr.Fd())),
	}
	code := run(ctx, std, os.Args[1:], commands())
	stop()
	os.Exit(code)
}

// commands is the command table, in the order `minilm --help` lists them.
func commands() []command {
	return []command{
		scoreCommand(),
		rerankCommand(),
		infoCommand(),
		tokenizeCommand(),
		downloadCommand(),
		benchCommand(),
		serveCommand(),
		loadtestCommand(),
		workerCommand(),
	}
}

// run dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, std stdio, args []string, cmds []command) int {
	if len(args) == 0 {
		usage(std.err, cmds)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(std.out, cmds)
		return exitOK
	case "-version", "--version", "version":
		info, ok := debug.ReadBuildInfo()
		fmt.Fprintln(std.out, versionString(info, ok))
		return exitOK
	case "help":
		if len(args) == 1 {
			usage(std.out, cmds)
			return exitOK
		}
		c, ok := lookup(cmds, args[1])
		if !ok {
			fmt.Fprintf(std.err, "minilm: unknown command %q\nRun 'minilm --help' for the list of commands.\n", args[1])
			return exitUsage
		}
		return c.run(ctx, std, []string{"--help"})
	}
	c, ok := lookup(cmds, args[0])
	if !ok {
		fmt.Fprintf(std.err, "minilm: unknown command %q\nRun 'minilm --help' for the list of commands.\n", args[0])
		return exitUsage
	}
	return c.run(ctx, std, args[1:])
}

func lookup(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage prints the intro and the visible commands.
func usage(w io.Writer, cmds []command) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nUsage: minilm COMMAND [flags] [args]\n\nCommands:\n", intro)
	width := 0
	for _, c := range cmds {
		if !c.hidden {
			width = max(width, len(c.name))
		}
	}
	for _, c := range cmds {
		if !c.hidden {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
		}
	}
	b.WriteString("\nRun 'minilm help COMMAND' for a command's flags; 'minilm --version' for the build.\n")
	io.WriteString(w, b.String())
}
