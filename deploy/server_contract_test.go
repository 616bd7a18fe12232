package deploy

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/minilm-dev/minilm/server"
)

// helpFlags lists the flags `minilm help CMD` documents.
func helpFlags(t *testing.T, cmd string) (flags map[string]bool, help string) {
	t.Helper()
	out, err := exec.Command(binary, "help", cmd).Output()
	if err != nil {
		t.Fatalf("minilm help %s: %v", cmd, err)
	}
	flags = map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  (?:-\w, )?--([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if len(flags) < 3 {
		t.Fatalf("minilm help %s: found only %v", cmd, flags)
	}
	return flags, string(out)
}

// checkFlags: every --flag in args is one the command has.
func checkFlags(t *testing.T, what string, args []string, flags map[string]bool) {
	t.Helper()
	for _, a := range args[1:] {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !flags[name] {
				t.Errorf("%s: %s is not a flag of minilm %s", what, a, args[0])
			}
		}
	}
}

// checkEnv: MINILM_* names are flags of serve; every other name is one the
// Hugging Face cache and download code reads (minilm help download lists them).
func checkEnv(t *testing.T, what string, c *corev1.Container, serveFlags map[string]bool, downloadHelp string) {
	t.Helper()
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "MINILM_") {
			ok := false
			for f := range serveFlags {
				ok = ok || server.EnvName(f) == e.Name
			}
			if !ok {
				t.Errorf("%s: env %s names no flag of minilm serve", what, e.Name)
			}
		} else if e.Name != "JOB_COMPLETION_INDEX" && !regexp.MustCompile(`\b`+e.Name+`\b`).MatchString(downloadHelp) {
			t.Errorf("%s: env %s is read neither by serve nor by the model cache (minilm help download)", what, e.Name)
		}
	}
}

// TestManifestsMatchServer ties the manifests to the server as built: args
// and env names are real flags (a renamed flag breaks this test), probe and
// scrape paths are real GET routes, the HPA's custom metric is exported, and
// the container, started with exactly its args and env (model and address
// remapped to the tiny model on loopback), passes its probes and drains on
// SIGTERM within the grace period.
func TestManifestsMatchServer(t *testing.T) {
	serveFlags, _ := helpFlags(t, "serve")
	scoreFlags, _ := helpFlags(t, "score")
	_, downloadHelp := helpFlags(t, "download")
	routes := map[string]bool{}
	for _, r := range server.Routes() {
		if r.Method == "GET" {
			routes[r.Path] = true
		}
	}

	base, c := checkService(t, "k8s")
	overlay, _ := checkService(t, "k8s/overlays/hf-cache")
	job := kustomizeBuild(t, "k8s/score-job").jobs[0]
	checkFlags(t, "deployment", c.Args, serveFlags)
	checkEnv(t, "deployment", c, serveFlags, downloadHelp)
	jc := &job.Spec.Template.Spec.Containers[0]
	checkFlags(t, "score job", jc.Args, scoreFlags)
	checkEnv(t, "score job", jc, serveFlags, downloadHelp)
	oc := &overlay.deployments[0].Spec.Template.Spec
	checkEnv(t, "hf-cache overlay", &oc.Containers[0], serveFlags, downloadHelp)
	checkEnv(t, "hf-cache init", &oc.InitContainers[0], serveFlags, downloadHelp)

	probes := []string{c.StartupProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, base.monitors[0].Spec.Endpoints[0].Path}
	for _, p := range probes {
		if !routes[p] {
			t.Errorf("probe or scrape path %s is not a GET route of the server (server.Routes)", p)
		}
	}

	// Start the container's command as the kubelet would.
	args := slices.Clone(c.Args)
	for i, a := range args {
		if strings.HasPrefix(a, "--addr=") {
			args[i] = "--addr=127.0.0.1:0"
		}
	}
	var env []string
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.Name == "MINILM_MODEL":
			v = "../testdata/models/tiny"
		case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
			q := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits."))]
			v = strconv.FormatInt(q.Value(), 10) // divisor 1, rounded up
		case e.ValueFrom != nil:
			t.Fatalf("env %s: cannot resolve %+v", e.Name, e.ValueFrom)
		}
		env = append(env, e.Name+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := startServe(ctx, t, binary, args, env, nil)
	if !strings.Contains(in.stderr(), `"msg":"listening"`) {
		t.Errorf("MINILM_LOG_FORMAT=json not applied: %s", in.stderr())
	}
	for _, p := range probes {
		resp, err := http.Get(in.url(p))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", p, resp.StatusCode)
		}
		if p == "/metrics" && !regexp.MustCompile(`(?m)^minilm_queue_size `).Match(body) {
			t.Error("/metrics has no minilm_queue_size gauge (the HPA's custom-metric variant scales on it)")
		}
	}
	t0 := time.Now()
	if err := in.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v, want exit 0\n%s", err, in.stderr())
	}
	if grace := time.Duration(*base.deployments[0].Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second; time.Since(t0) >= grace {
		t.Errorf("drain took %v, over the grace period %v", time.Since(t0), grace)
	}
}
