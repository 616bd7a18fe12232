package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/minilm-dev/minilm/loader"
	"github.com/minilm-dev/minilm/loader/hub"
)

const downloadAbout = `
Fetch a model from the Hugging Face Hub into the local Hugging Face cache
(the one Python's huggingface_hub uses, so downloads are shared both ways)
and print the snapshot directory. REPO_ID defaults to
cross-encoder/ms-marco-MiniLM-L-6-v2; "org/name@rev" names a revision too.
Only the files minilm reads are fetched: config.json, model.safetensors,
vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json
(those the repo lacks are skipped). Files already cached are not fetched
again, and an interrupted download resumes where it stopped.

Environment: HF_ENDPOINT (a mirror), HF_TOKEN (private or gated repos; else
the token file huggingface-cli login writes), HF_HUB_CACHE / HF_HOME (the
cache), HF_HUB_OFFLINE=1 (no network: succeed only if already cached).

Example:
  minilm download cross-encoder/ms-marco-MiniLM-L-6-v2`

func downloadCommand() command {
	return command{
		name:    "download",
		summary: "fetch a model from the Hugging Face Hub into the local cache",
		run:     runDownload,
	}
}

func runDownload(ctx context.Context, std stdio, args []string) int {
	spec := newFlagSpec("download", "minilm download [flags] [REPO_ID]", downloadAbout)
	revision := spec.fs.String("revision", "", "branch, tag or commit hash to fetch (default main)")
	cacheDir := spec.fs.String("cache-dir", "", "Hugging Face hub cache `dir` (default $HF_HUB_CACHE, else $HF_HOME/hub,\nelse ~/.cache/huggingface/hub)")
	quiet := spec.fs.Bool("quiet", false, "no progress bar")
	progress := spec.fs.Bool("progress", false, "show the progress bar even when stderr is not a terminal")
	rest, status, done := spec.parse(std, args)
	if done {
		return status
	}
	repo, rev, err := downloadTarget(rest, *revision)
	if err != nil {
		return exitWith(ctx, std, err)
	}
	opts := hub.Options{CacheDir: *cacheDir, Revision: rev}
	if opts.CacheDir == "" {
		opts.CacheDir = loader.HubCacheDir()
	}
	if opts.CacheDir == "" {
		return exitWith(ctx, std, usagef("no home directory to put the Hugging Face cache in; set HF_HUB_CACHE or pass --cache-dir"))
	}
	if *quiet && *progress {
		return exitWith(ctx, std, usagef("--quiet and --progress contradict each other"))
	}
	if !*quiet && (std.errIsTerminal || *progress) {
		opts.Progress = std.err
		opts.ProgressPlain = !std.errIsTerminal
	}
	dir, err := hub.Download(ctx, repo, opts)
	switch {
	case errors.Is(err, hub.ErrInvalid):
		err = usagef("%v", err)
	case errors.Is(err, hub.ErrOffline):
		err = fmt.Errorf("%w; unset HF_HUB_OFFLINE to download it", err)
	}
	if err != nil {
		return exitWith(ctx, std, err)
	}
	fmt.Fprintln(std.out, dir)
	return exitWith(ctx, std, nil)
}

// downloadTarget reads the optional REPO_ID[@REV] argument.
func downloadTarget(args []string, revFlag string) (repo, rev string, err error) {
	switch len(args) {
	case 0:
		return hub.DefaultRepo, revFlag, nil
	case 1:
	default:
		return "", "", usagef("download takes at most one repo id, got %q", args)
	}
	repo, rev, hasRev := strings.Cut(args[0], "@")
	switch {
	case !hasRev:
		return repo, revFlag, nil
	case rev == "":
		return "", "", usagef("%q: the revision after '@' is empty", args[0])
	case revFlag != "" && revFlag != rev:
		return "", "", usagef("%q conflicts with --revision %s", args[0], revFlag)
	}
	return repo, rev, nil
}
