package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/minilm-dev/minilm/engine"
)

const infoAbout = `
Load a model and describe it: where it was resolved to, its configuration,
parameter count and weight dtype, and how it would run (backend, threads,
max length, activation).

Example:
  minilm info --model cross-encoder/ms-marco-MiniLM-L-6-v2`

func infoCommand() command {
	return command{
		name:    "info",
		summary: "describe a model: resolved path, config, parameters, backend",
		run:     runInfo,
	}
}

func runInfo(ctx context.Context, std stdio, args []string) int {
	spec := newFlagSpec("info", "minilm info [flags]", infoAbout)
	m, status := loadModel(ctx, std, spec, args, func(opts *engine.Options) {
		if std.errIsTerminal {
			opts.Progress = std.err
		}
	})
	if m == nil {
		return status
	}
	defer m.Close()
	fmt.Fprint(std.out, describe(m.Info()))
	return exitWith(ctx, std, nil)
}

// describe formats a model's Info as aligned "key: value" lines.
func describe(in engine.Info) string {
	c := in.Config
	act := "raw (logit)"
	if in.Activation == engine.ActivationSigmoid {
		act = "sigmoid"
	}
	rows := [][2]string{
		{"model", absPath(in.Dir)},
		{"architecture", fmt.Sprintf("%s (%s)", strings.Join(c.Architectures, ", "), c.ModelType)},
		{"layers", fmt.Sprint(c.NumHiddenLayers)},
		{"hidden size", fmt.Sprint(c.HiddenSize)},
		{"attention heads", fmt.Sprint(c.NumAttentionHeads)},
		{"intermediate size", fmt.Sprintf("%d (%s)", c.IntermediateSize, c.HiddenAct)},
		{"vocabulary", fmt.Sprint(c.VocabSize)},
		{"max positions", fmt.Sprint(c.MaxPositionEmbeddings)},
		{"labels", fmt.Sprint(c.NumLabels)},
		{"parameters", groupDigits(in.Params)},
		{"dtype", in.DType},
		{"backend", in.Backend},
		{"threads", fmt.Sprint(in.Threads)},
		{"precision", strings.TrimSuffix(in.Precision+" ("+in.PrecisionNote+")", " ()")},
		{"max length", fmt.Sprintf("%d tokens", in.MaxLength)},
		{"activation", act},
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-18s %s\n", r[0]+":", r[1])
	}
	return b.String()
}

// groupDigits writes n with thousands separators: 22713601 → 22,713,601.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// absPath makes a model directory absolute, so that the output says where
// the files are whatever the working directory.
func absPath(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
