package deploy

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const nginxPath = "/usr/sbin/nginx"

// TestRollingRestart is Kubernetes' rolling restart on one machine: three
// `minilm serve` instances behind nginx (passive health checks, retry on the
// next upstream on errors and 502/503), 32 clients sending /rerank requests
// without pause, and meanwhile each instance in turn gets SIGTERM, is waited
// for, replaced by a new process on the same port, and waited for on /ready.
// No request may fail and every score must be minilm score's. It prints the
// request counts and latencies before and during the restarts:
//
//	go test -v -run TestRollingRestart ./deploy/
func TestRollingRestart(t *testing.T) {
	if _, err := os.Stat(nginxPath); err != nil {
		t.Skipf("nginx not installed at %s (apt-get install nginx; .ci/run does): skipping the rolling-restart test", nginxPath)
	}
	const (
		instances = 3
		clients   = 32
		before    = 3 * time.Second // steady load before the first restart
		after     = 1 * time.Second // load after the last instance is back
	)
	g := scoreAll(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := func(addr string) *instance {
		return startServe(ctx, t, binary, serveArgs("../testdata/models/tiny", addr), os.Environ(), nil)
	}
	servers := make([]*instance, instances)
	for i := range servers {
		servers[i] = start("127.0.0.1:0")
	}
	lb := startNginx(t, servers)

	// The load: each client sends a query with 1-8 passages at random (fixed
	// seeds), one request after the other, until stop.
	type sample struct {
		at      time.Time
		latency time.Duration
		err     error
	}
	var (
		mu      sync.Mutex
		samples []sample
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(1, uint64(c)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				q := g.queries[rng.IntN(len(g.queries))]
				texts := make([]string, 1+rng.IntN(8))
				for i := range texts {
					texts[i] = g.passages[rng.IntN(len(g.passages))]
				}
				t0 := time.Now()
				err := rerank(ctx, client, lb+"/rerank", g, q, texts)
				mu.Lock()
				samples = append(samples, sample{t0, time.Since(t0), err})
				mu.Unlock()
			}
		})
	}

	time.Sleep(before)
	restartBegan := time.Now()
	for i, old := range servers {
		addr := old.addr
		t0 := time.Now()
		if err := old.stop(syscall.SIGTERM); err != nil {
			t.Errorf("instance %d: exit after SIGTERM: %v, want 0\n%s", i, err, old.stderr())
		}
		drained := time.Since(t0)
		servers[i] = start(addr)
		ready := time.Since(t0)
		// Like a Deployment that waits for each new pod before taking the next
		// one down: go on once nginx sends the replacement traffic again (its
		// passive check has the port marked failed for up to fail_timeout).
		if err := servers[i].waitServed(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("instance %d (%s): drained and exited %v after SIGTERM, replacement ready at %v, taking traffic at %v", i, addr,
			drained.Round(time.Millisecond), ready.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	}
	restartEnded := time.Now()
	time.Sleep(after)
	close(stop)
	wg.Wait()

	var failures []string
	var steady, rolling []time.Duration
	for _, s := range samples {
		if s.err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", s.at.Format("15:04:05.000"), s.err))
			continue
		}
		switch {
		case s.at.Before(restartBegan):
			steady = append(steady, s.latency)
		case s.at.Before(restartEnded):
			rolling = append(rolling, s.latency)
		}
	}
	report := func(name string, l []time.Duration, span time.Duration) {
		slices.Sort(l)
		pct := func(p float64) time.Duration {
			if len(l) == 0 {
				return 0
			}
			return l[min(len(l)-1, int(p*float64(len(l))))]
		}
		t.Logf("%-16s %6d requests in %5.2fs (%6.0f/s)  p50 %7.2fms  p99 %7.2fms", name, len(l), span.Seconds(),
			float64(len(l))/span.Seconds(), ms(pct(0.50)), ms(pct(0.99)))
	}
	t.Logf("%d clients, %d instances behind nginx, %d requests in all, %d failed", clients, instances, len(samples), len(failures))
	report("before restarts", steady, before)
	report("during restarts", rolling, restartEnded.Sub(restartBegan))
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed; first ones:\n%s\nnginx error log:\n%s", len(failures), len(samples),
			strings.Join(failures[:min(10, len(failures))], "\n"), readTail(filepath.Join(filepath.Dir(lbConf(t)), "error.log")))
	}
	if len(steady) == 0 || len(rolling) == 0 {
		t.Errorf("no load measured (%d before, %d during restarts)", len(steady), len(rolling))
	}
}

var reranksServed = regexp.MustCompile(`(?m)^minilm_request_duration_seconds_count\{[^}]*route="/rerank"[^}]*\} ([0-9]+)`)

// waitServed polls the instance's /metrics until it has answered a /rerank.
func (in *instance) waitServed(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(in.url("/metrics")); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, m := range reranksServed.FindAllSubmatch(b, -1) {
				if string(m[1]) != "0" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no /rerank served through nginx: %w", in.addr, ctx.Err())
		case <-tick.C:
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startNginx runs nginx in the foreground on a free loopback port in front of
// the servers and returns its base URL.
func startNginx(t *testing.T, servers []*instance) string {
	t.Helper()
	dir := filepath.Dir(lbConf(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nginx binds it next; nothing else on this machine races for it in a test run
	var up strings.Builder
	for _, s := range servers {
		// passive health check: one failure takes the server out for 1 s
		fmt.Fprintf(&up, "    server %s max_fails=1 fail_timeout=1s;\n", s.addr)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream minilm {
%[2]s    keepalive 64;
  }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://minilm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      # a draining server answers 503; a stopped one refuses; a closing keepalive
      # connection errors: all go to the next server. Reranking is a pure
      # function of the request, so a POST is safe to send again.
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_tries 3;
    }
  }
}
`, dir, up.String(), addr)
	if err := os.WriteFile(lbConf(t), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxPath, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", lbConf(t))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case err := <-exited:
			t.Fatalf("nginx exited: %v\n%s", err, readTail(filepath.Join(dir, "error.log")))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var lbDirs sync.Map // test name → nginx directory

func lbConf(t *testing.T) string {
	d, _ := lbDirs.LoadOrStore(t.Name(), t.TempDir())
	return filepath.Join(d.(string), "nginx.conf")
}

func readTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
