package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// instance is one `minilm serve` process started by a test.
type instance struct {
	cmd  *exec.Cmd
	addr string        // host:port it listens on, from its "listening" log line
	done chan struct{} // closed when it has exited; err then holds Wait's result
	err  error
	mu   sync.Mutex
	log  bytes.Buffer // its stderr
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

func (in *instance) stderr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.String()
}

var listeningAddr = regexp.MustCompile(`msg=listening .*addr=(\S+)|"msg":"listening".*"addr":"([^"]+)"`)

// startServe starts bin (a path inside attr's chroot, if any) with args and
// env, and returns once it listens (the address is read from its log) and
// answers 200 on /ready; it stops the test if that does not happen.
func startServe(ctx context.Context, t testing.TB, bin string, args, env []string, attr *syscall.SysProcAttr) *instance {
	t.Helper()
	in, err := launch(t, bin, args, env, attr)
	if err == nil {
		err = in.waitReady(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func launch(t testing.TB, bin string, args, env []string, attr *syscall.SysProcAttr) (*instance, error) {
	in := &instance{done: make(chan struct{})}
	in.cmd = exec.Command(bin, args...)
	in.cmd.Env = env
	in.cmd.SysProcAttr = attr
	pr, err := in.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := in.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minilm %q: %w", args, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l := sc.Text()
			in.mu.Lock()
			in.log.WriteString(l + "\n")
			in.mu.Unlock()
			if m := listeningAddr.FindStringSubmatch(l); m != nil {
				select {
				case found <- m[1] + m[2]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
		in.err = in.cmd.Wait()
		close(in.done)
	}()
	t.Cleanup(func() { in.stop(syscall.SIGKILL) })
	select {
	case in.addr = <-found:
		return in, nil
	case <-in.done:
		return nil, fmt.Errorf("minilm %q exited (%v) before listening:\n%s", args, in.err, in.stderr())
	case <-time.After(60 * time.Second):
		in.stop(syscall.SIGKILL)
		return nil, fmt.Errorf("minilm %q: no listening line in 60 s:\n%s", args, in.stderr())
	}
}

// stop signals the process and waits for it to exit.
func (in *instance) stop(sig syscall.Signal) error {
	select {
	case <-in.done:
		return in.err
	default:
	}
	in.cmd.Process.Signal(sig)
	<-in.done
	return in.err
}

// waitReady polls GET /ready until 200, the process exits, or the deadline.
func (in *instance) waitReady(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", in.url("/ready"), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-in.done:
			return fmt.Errorf("exited (%v) before ready:\n%s", in.err, in.stderr())
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w\n%s", ctx.Err(), in.stderr())
		case <-tick.C:
		}
	}
}

// golden are raw logits of query/passage pairs as `minilm score` computes them.
type golden struct {
	queries, passages []string
	logit             map[[2]string]float64
}

// scoreAll computes with `minilm score --activation raw` the logits of every
// query against every passage of testdata/cli/pairs.tsv.
func scoreAll(t testing.TB) *golden {
	t.Helper()
	data, err := os.ReadFile("../testdata/cli/pairs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	g := &golden{logit: map[[2]string]float64{}}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		q, p, _ := strings.Cut(l, "\t")
		if !seen["q"+q] {
			g.queries = append(g.queries, q)
		}
		if !seen["p"+p] {
			g.passages = append(g.passages, p)
		}
		seen["q"+q], seen["p"+p] = true, true
	}
	var in strings.Builder
	for _, q := range g.queries {
		for _, p := range g.passages {
			fmt.Fprintf(&in, "%s\t%s\n", q, p)
		}
	}
	cmd := exec.Command(binary, "score", "--model", "../testdata/models/tiny", "--activation", "raw", "--format", "tsv", "--quiet")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("minilm score: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		f := strings.Split(l, "\t")
		var s float64
		if _, err := fmt.Sscan(f[2], &s); err != nil {
			t.Fatalf("score line %q: %v", l, err)
		}
		g.logit[[2]string{f[0], f[1]}] = s
	}
	return g
}

// scoreTol: the server promises scores identical to `minilm score` within
// 1e-6 whatever the batching; the CLI prints the shortest decimal that reads
// back as the same float32, so nothing is lost in the comparison.
const scoreTol = 1e-6

type teiResult struct {
	Index int     `json:"index"`
	Score float64 `json:"score"`
}

// rerank posts a TEI /rerank request with raw scores and checks the answer
// against g: one result per text, best first, each logit as minilm score's.
func rerank(ctx context.Context, c *http.Client, url string, g *golden, q string, texts []string) error {
	body, _ := json.Marshal(map[string]any{"query": q, "texts": texts, "raw_scores": true})
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	var res []teiResult
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("answer %.200s: %w", b, err)
	}
	if len(res) != len(texts) {
		return fmt.Errorf("%d results for %d texts", len(res), len(texts))
	}
	seen := make([]bool, len(texts))
	for i, r := range res {
		if r.Index < 0 || r.Index >= len(texts) || seen[r.Index] {
			return fmt.Errorf("result %d: bad or repeated index %d", i, r.Index)
		}
		seen[r.Index] = true
		want, ok := g.logit[[2]string{q, texts[r.Index]}]
		if !ok || math.Abs(r.Score-want) > scoreTol*max(1, math.Abs(want)) {
			return fmt.Errorf("text %d: score %v, want %v (minilm score)", r.Index, r.Score, want)
		}
		if i > 0 && r.Score > res[i-1].Score {
			return fmt.Errorf("results not sorted best first at %d", i)
		}
	}
	return nil
}

// copyFile copies src to dst with mode.
func copyFile(dst, src string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// serveArgs are the flags the tests start servers with: one inference thread
// each (the machine is shared), a short drain bound.
func serveArgs(model, addr string) []string {
	return []string{"serve", "--model", model, "--addr", addr, "--threads", "1", "--shutdown-timeout", "10s"}
}
