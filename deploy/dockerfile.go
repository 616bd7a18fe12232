package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Dockerfile is what the tests and ociimage need to know of deploy/Dockerfile:
// the go build command of the build stage and the final stage's settings.
type Dockerfile struct {
	BuildCommand string            // the RUN line holding "go build"
	Base         string            // the final stage's FROM
	Entrypoint   []string          // exec form
	Cmd          []string          // exec form
	User         string            // as written: "65532:65532"
	Expose       []string          // "8080"
	Env          map[string]string // the final stage's ENV
	Labels       map[string]string // the final stage's LABEL, ${VERSION} left as written
}

// ParseDockerfile reads the instructions minilm's Dockerfile uses. It is not
// a general Dockerfile parser: it knows line continuations, comments, and
// the exec (JSON) form of ENTRYPOINT and CMD, which the final stage must use
// (distroless has no shell to run the shell form).
func ParseDockerfile(r io.Reader) (*Dockerfile, error) {
	d := &Dockerfile{Env: map[string]string{}, Labels: map[string]string{}}
	sc := bufio.NewScanner(r)
	var logical strings.Builder
	lineNo, start := 0, 0
	var instrs []struct {
		line       int
		name, rest string
	}
	for sc.Scan() {
		lineNo++
		l := strings.TrimSpace(sc.Text())
		if logical.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if logical.Len() == 0 {
			start = lineNo
		}
		if cont, ok := strings.CutSuffix(l, "\\"); ok {
			logical.WriteString(cont)
			logical.WriteByte(' ')
			continue
		}
		logical.WriteString(l)
		name, rest, _ := strings.Cut(logical.String(), " ")
		instrs = append(instrs, struct {
			line       int
			name, rest string
		}{start, strings.ToUpper(name), strings.TrimSpace(rest)})
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	for _, in := range instrs {
		if in.name == "FROM" { // a new stage: only the last one's settings count
			base, _, _ := strings.Cut(in.rest, " ")
			d.Base, d.Entrypoint, d.Cmd, d.User, d.Expose = base, nil, nil, "", nil
			d.Env, d.Labels = map[string]string{}, map[string]string{}
			continue
		}
		var err error
		switch in.name {
		case "RUN":
			if strings.Contains(in.rest, "go build") {
				d.BuildCommand = in.rest
			}
		case "ENTRYPOINT":
			err = json.Unmarshal([]byte(in.rest), &d.Entrypoint)
		case "CMD":
			err = json.Unmarshal([]byte(in.rest), &d.Cmd)
		case "USER":
			d.User = in.rest
		case "EXPOSE":
			d.Expose = append(d.Expose, strings.Fields(in.rest)...)
		case "ENV":
			err = keyValues(in.rest, d.Env)
		case "LABEL":
			err = keyValues(in.rest, d.Labels)
		}
		if err != nil {
			return nil, fmt.Errorf("Dockerfile:%d: %s: %w", in.line, in.name, err)
		}
	}
	if d.BuildCommand == "" || d.Base == "" {
		return nil, fmt.Errorf("Dockerfile: no go build RUN line or no FROM")
	}
	return d, nil
}

// keyValues parses `k=v k2="v 2"` into m.
func keyValues(s string, m map[string]string) error {
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				return fmt.Errorf("unterminated quote in %q", s)
			}
			v, s = rest[1:1+end], rest[2+end:]
		} else {
			v, s, _ = strings.Cut(rest, " ")
		}
		m[k] = v
	}
	return nil
}
