package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/minilm-dev/minilm/engine"
)

const infoAbout = `
Load a model and describe it: where it was resolved to, its configuration,
parameter count and weight dtype, and how it would run (backend, threads,
max length, activation); --json prints the same facts as one JSON object.

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
	asJSON := spec.fs.Bool("json", false, "print the same facts as one JSON object")
	m, status := loadModel(ctx, std, spec, args, func(opts *engine.Options) {
		if std.errIsTerminal {
			opts.Progress = std.err
		}
	})
	if m == nil {
		return status
	}
	defer m.Close()
	facts := modelFacts(m.Info())
	if *asJSON {
		b, err := json.MarshalIndent(facts, "", "  ")
		if err != nil {
			return exitWith(ctx, std, err)
		}
		fmt.Fprintf(std.out, "%s\n", b)
	} else {
		fmt.Fprint(std.out, facts.text())
	}
	return exitWith(ctx, std, nil)
}

// infoFacts is what info prints, as text or (field names) as JSON.
type infoFacts struct {
	Model            string   `json:"model"`
	Architectures    []string `json:"architectures"`
	ModelType        string   `json:"model_type"`
	Layers           int      `json:"layers"`
	HiddenSize       int      `json:"hidden_size"`
	AttentionHeads   int      `json:"attention_heads"`
	IntermediateSize int      `json:"intermediate_size"`
	HiddenAct        string   `json:"hidden_act"`
	Vocabulary       int      `json:"vocabulary"`
	MaxPositions     int      `json:"max_positions"`
	Labels           int      `json:"labels"`
	Parameters       int64    `json:"parameters"`
	DType            string   `json:"dtype"`
	Backend          string   `json:"backend"`
	Kernels          string   `json:"kernels,omitempty"`
	Threads          int      `json:"threads"`
	Precision        string   `json:"precision"`
	PrecisionNote    string   `json:"precision_note,omitempty"`
	MaxLength        int      `json:"max_length"`
	Activation       string   `json:"activation"` // raw or sigmoid
}

func modelFacts(in engine.Info) infoFacts {
	c := in.Config
	return infoFacts{
		Model: absPath(in.Dir), Architectures: c.Architectures, ModelType: c.ModelType,
		Layers: c.NumHiddenLayers, HiddenSize: c.HiddenSize, AttentionHeads: c.NumAttentionHeads,
		IntermediateSize: c.IntermediateSize, HiddenAct: c.HiddenAct, Vocabulary: c.VocabSize,
		MaxPositions: c.MaxPositionEmbeddings, Labels: c.NumLabels, Parameters: in.Params,
		DType: in.DType, Backend: in.Backend, Kernels: in.Kernels, Threads: in.Threads, MaxLength: in.MaxLength,
		Precision: in.Precision, PrecisionNote: in.PrecisionNote,
		Activation: in.Activation.String(),
	}
}

// text formats the facts as aligned "key: value" lines.
func (f infoFacts) text() string {
	act := f.Activation
	if act == "raw" {
		act = "raw (logit)"
	}
	rows := [][2]string{
		{"model", f.Model},
		{"architecture", fmt.Sprintf("%s (%s)", strings.Join(f.Architectures, ", "), f.ModelType)},
		{"layers", fmt.Sprint(f.Layers)},
		{"hidden size", fmt.Sprint(f.HiddenSize)},
		{"attention heads", fmt.Sprint(f.AttentionHeads)},
		{"intermediate size", fmt.Sprintf("%d (%s)", f.IntermediateSize, f.HiddenAct)},
		{"vocabulary", fmt.Sprint(f.Vocabulary)},
		{"max positions", fmt.Sprint(f.MaxPositions)},
		{"labels", fmt.Sprint(f.Labels)},
		{"parameters", groupDigits(f.Parameters)},
		{"dtype", f.DType},
		{"backend", f.Backend},
		{"kernels", f.Kernels},
		{"threads", fmt.Sprint(f.Threads)},
		{"precision", strings.TrimSuffix(f.Precision+" ("+f.PrecisionNote+")", " ()")},
		{"max length", fmt.Sprintf("%d tokens", f.MaxLength)},
		{"activation", act},
	}
	var b strings.Builder
	for _, r := range rows {
		if r[1] == "" {
			continue // a fact this backend does not have (kernels on Metal)
		}
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
