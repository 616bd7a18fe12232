package server

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// EnvName is the environment variable of a flag: MINILM_ and the name in
// upper case with - as _ (--max-batch-tokens: MINILM_MAX_BATCH_TOKENS).
func EnvName(flagName string) string {
	return "MINILM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets the flags of fs from the environment, before the command
// line is parsed (so flags given there win): MINILM_<FLAG> for every flag,
// then for those still unset TEI's names (MODEL_ID, MAX_BATCH_TOKENS, …)
// and PORT, which makes --addr listen on every interface at that port.
// HF_TOKEN needs no mapping: downloads read it. It returns the variables it
// used, and an error naming the variable whose value the flag refused.
func ApplyEnv(fs *flag.FlagSet, getenv func(string) string) ([]string, error) {
	// text-embeddings-inference's names, so that a TEI deployment's
	// manifest works unchanged.
	teiEnv := []struct{ env, flag string }{
		{"MODEL_ID", "model"},
		{"MAX_BATCH_TOKENS", "max-batch-tokens"},
		{"MAX_BATCH_REQUESTS", "max-batch-requests"},
		{"MAX_CLIENT_BATCH_SIZE", "max-client-batch-size"},
		{"MAX_CONCURRENT_REQUESTS", "max-concurrent-requests"},
		{"AUTO_TRUNCATE", "auto-truncate"},
		{"API_KEY", "api-key"},
		{"PAYLOAD_LIMIT", "payload-limit"},
	}
	var used []string
	set := map[string]bool{}
	apply := func(env, name string) error {
		v := getenv(env)
		if v == "" || set[name] || fs.Lookup(name) == nil {
			return nil
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("environment %s=%q (for --%s): %v", env, v, name, err)
		}
		set[name] = true
		used = append(used, env)
		return nil
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err == nil {
			err = apply(EnvName(f.Name), f.Name)
		}
	})
	for _, a := range teiEnv {
		if err == nil {
			err = apply(a.env, a.flag)
		}
	}
	if port := getenv("PORT"); err == nil && port != "" && !set["addr"] && fs.Lookup("addr") != nil {
		if err = fs.Set("addr", "0.0.0.0:"+port); err != nil {
			err = fmt.Errorf("environment PORT=%q (for --addr): %v", port, err)
		} else {
			used = append(used, "PORT")
		}
	}
	return used, err
}

// NewLogger returns a slog logger writing text or json lines to w.
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
