package deploy

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// flagValue returns the value of --name in args ("--name=v" or "--name v").
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func envValue(c *corev1.Container, name string) (*corev1.EnvVar, bool) {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i], true
		}
	}
	return nil, false
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkHardened: the pod and container security settings the issue asks for,
// with the image's user.
func checkHardened(t *testing.T, what string, pod *corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	d, err := readDockerfile()
	if err != nil {
		t.Fatal(err)
	}
	uid, _, _ := strings.Cut(d.User, ":")
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || strconv.FormatInt(*ps.RunAsUser, 10) != uid {
		t.Errorf("%s: pod securityContext %+v: want runAsNonRoot and runAsUser %s (the image's USER)", what, ps, uid)
	}
	cs := c.SecurityContext
	if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
		cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
		cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL" {
		t.Errorf("%s: container %s securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, drop ALL", what, c.Name, cs)
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		q, l := req[r], lim[r]
		if q.IsZero() || l.IsZero() || q.Cmp(l) > 0 {
			t.Errorf("%s: container %s %s request %v limit %v: want both, request <= limit", what, c.Name, r, q.String(), l.String())
		}
	}
	// A read-only root still needs a writable /tmp (atomic outputs, worker sockets).
	tmp := false
	for _, m := range c.VolumeMounts {
		tmp = tmp || (m.MountPath == "/tmp" && !m.ReadOnly)
	}
	if !tmp {
		t.Errorf("%s: container %s has no writable /tmp", what, c.Name)
	}
}

// checkService runs on a kustomize build of the base or an overlay.
func checkService(t *testing.T, dir string) (*objects, *corev1.Container) {
	t.Helper()
	o := kustomizeBuild(t, dir)
	if len(o.deployments) != 1 || len(o.services) != 1 || len(o.pdbs) != 1 || len(o.hpas) != 1 || len(o.monitors) != 1 {
		t.Fatalf("%s: %v", dir, o.kinds)
	}
	dep, svc, pdb, hpa, mon := o.deployments[0], o.services[0], o.pdbs[0], o.hpas[0], o.monitors[0]
	pod := &dep.Spec.Template
	podLabels := pod.Labels
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("%s: replicas %v, want 2", dir, dep.Spec.Replicas)
	}
	if !subset(dep.Spec.Selector.MatchLabels, podLabels) || !subset(svc.Spec.Selector, podLabels) || !subset(pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("%s: selectors (deployment %v, service %v, pdb %v) must match the pod labels %v", dir, dep.Spec.Selector.MatchLabels, svc.Spec.Selector, pdb.Spec.Selector.MatchLabels, podLabels)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || pdb.Spec.MinAvailable.IntValue() >= int(*dep.Spec.Replicas) {
		t.Errorf("%s: PDB minAvailable %v: want at least 1 and below the replicas, so drains proceed", dir, pdb.Spec.MinAvailable)
	}
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != dep.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("%s: HPA targets %+v, want Deployment %s", dir, ref, dep.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != *dep.Spec.Replicas || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
		t.Errorf("%s: HPA min %v max %d: want min = the Deployment's replicas < max", dir, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Errorf("%s: HPA metrics %+v, want CPU", dir, hpa.Spec.Metrics)
	}
	if !subset(mon.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("%s: ServiceMonitor selects %v, the Service is labelled %v", dir, mon.Spec.Selector.MatchLabels, svc.Labels)
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers", dir, len(pod.Spec.Containers))
	}
	c := &pod.Spec.Containers[0]
	checkHardened(t, dir, &pod.Spec, c)
	if c.Image != "minilm:latest" {
		t.Errorf("%s: image %q, want minilm:latest (set with kustomize edit set image)", dir, c.Image)
	}
	d, _ := readDockerfile()
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || strconv.Itoa(int(c.Ports[0].ContainerPort)) != d.Expose[0] {
		t.Fatalf("%s: ports %+v, want http on the image's EXPOSE %s", dir, c.Ports, d.Expose)
	}
	port := c.Ports[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("%s: args %q, want serve ...", dir, c.Args)
	}
	addr, _ := flagValue(c.Args, "addr")
	if _, p, err := net.SplitHostPort(addr); err != nil || p != strconv.Itoa(int(port.ContainerPort)) {
		t.Errorf("%s: --addr %q does not listen on the container port %d", dir, addr, port.ContainerPort)
	}
	resolves := func(p intstr.IntOrString) bool {
		return (p.Type == intstr.String && p.StrVal == port.Name) || (p.Type == intstr.Int && p.IntVal == port.ContainerPort)
	}
	for _, pr := range []struct {
		name string
		p    *corev1.Probe
		path string
	}{{"startupProbe", c.StartupProbe, "/ready"}, {"readinessProbe", c.ReadinessProbe, "/ready"}, {"livenessProbe", c.LivenessProbe, "/health"}} {
		if pr.p == nil || pr.p.HTTPGet == nil || pr.p.HTTPGet.Path != pr.path || !resolves(pr.p.HTTPGet.Port) {
			t.Errorf("%s: %s %+v: want GET %s on the http port", dir, pr.name, pr.p, pr.path)
		}
	}
	if len(svc.Spec.Ports) != 1 || !resolves(svc.Spec.Ports[0].TargetPort) {
		t.Errorf("%s: Service ports %+v do not reach the container port", dir, svc.Spec.Ports)
	}
	if len(mon.Spec.Endpoints) != 1 || mon.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || mon.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("%s: ServiceMonitor endpoints %+v: want /metrics on the Service's port %q", dir, mon.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}

	// Shutdown: preStop delay + the server's drain bound < the grace period.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
		t.Fatalf("%s: preStop %+v: want a sleep (no shell in distroless)", dir, c.Lifecycle)
	}
	st, ok := flagValue(c.Args, "shutdown-timeout")
	drain, err := time.ParseDuration(st)
	if !ok || err != nil {
		t.Fatalf("%s: --shutdown-timeout %q: %v", dir, st, err)
	}
	grace := pod.Spec.TerminationGracePeriodSeconds
	need := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second + drain
	if grace == nil || time.Duration(*grace)*time.Second <= need {
		t.Errorf("%s: terminationGracePeriodSeconds %v: want above preStop + --shutdown-timeout = %v", dir, grace, need)
	}
	if th, ok := envValue(c, "MINILM_THREADS"); !ok || th.ValueFrom == nil || th.ValueFrom.ResourceFieldRef == nil || th.ValueFrom.ResourceFieldRef.Resource != "limits.cpu" {
		t.Errorf("%s: MINILM_THREADS %+v: want the CPU limit (resourceFieldRef limits.cpu)", dir, th)
	}
	return o, c
}

func TestKustomizeBase(t *testing.T) {
	_, c := checkService(t, "k8s")
	if v, ok := envValue(c, "HF_HUB_OFFLINE"); !ok || v.Value != "1" {
		t.Errorf("base: the model is baked in; want HF_HUB_OFFLINE=1, got %+v", v)
	}
	hpa, err := os.ReadFile("k8s/base/hpa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hpa), "#       name: minilm_queue_size") {
		t.Error("hpa.yaml lacks the commented custom-metric variant on minilm_queue_size")
	}
}

func TestKustomizeHFCacheOverlay(t *testing.T) {
	o, c := checkService(t, "k8s/overlays/hf-cache")
	pod := &o.deployments[0].Spec.Template.Spec
	if len(pod.InitContainers) != 1 {
		t.Fatalf("init containers %d, want the download", len(pod.InitContainers))
	}
	ic := &pod.InitContainers[0]
	checkHardened(t, "hf-cache init", pod, ic)
	model, _ := envValue(c, "MINILM_MODEL")
	if len(ic.Args) != 2 || ic.Args[0] != "download" || model == nil || ic.Args[1] != model.Value {
		t.Errorf("init args %q: want download of the served model %+v", ic.Args, model)
	}
	if ic.Image != c.Image {
		t.Errorf("init image %q, server image %q", ic.Image, c.Image)
	}
	claims := map[string]bool{}
	for _, p := range o.pvcs {
		claims[p.Name] = true
	}
	vol := ""
	for _, v := range pod.Volumes {
		if v.PersistentVolumeClaim != nil && claims[v.PersistentVolumeClaim.ClaimName] {
			vol = v.Name
		}
	}
	if vol == "" {
		t.Fatalf("no volume of the overlay's claim %v in %+v", claims, pod.Volumes)
	}
	for _, k := range []*corev1.Container{ic, c} {
		cache, _ := envValue(k, "HF_HUB_CACHE")
		found := false
		for _, m := range k.VolumeMounts {
			found = found || (m.Name == vol && cache != nil && m.MountPath == cache.Value)
		}
		if !found {
			t.Errorf("container %s: HF_HUB_CACHE %+v is not where volume %s is mounted (%+v)", k.Name, cache, vol, k.VolumeMounts)
		}
	}
}

// TestScoreJob checks the Indexed Job and then runs its container args, as
// the kubelet would expand them for each completion index, against the tiny
// model, with /data in a temporary directory: the merged shard outputs are
// the unsharded scores.
func TestScoreJob(t *testing.T) {
	o := kustomizeBuild(t, "k8s/score-job")
	if len(o.jobs) != 1 || len(o.kinds) != 1 {
		t.Fatalf("score-job: %v, want one Job", o.kinds)
	}
	job := o.jobs[0]
	spec := &job.Spec.Template.Spec
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != "Indexed" || job.Spec.Completions == nil {
		t.Fatalf("job: completionMode %v completions %v, want Indexed", job.Spec.CompletionMode, job.Spec.Completions)
	}
	n := int(*job.Spec.Completions)
	c := &spec.Containers[0]
	checkHardened(t, "score-job", spec, c)
	if idx, ok := envValue(c, "JOB_COMPLETION_INDEX"); !ok || idx.ValueFrom == nil || idx.ValueFrom.FieldRef == nil ||
		idx.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("JOB_COMPLETION_INDEX %+v: want the completion index annotation", idx)
	}
	if sh, _ := flagValue(c.Args, "shard"); sh != "$(JOB_COMPLETION_INDEX)/"+strconv.Itoa(n) {
		t.Errorf("--shard %q, want $(JOB_COMPLETION_INDEX)/%d (the completions)", sh, n)
	}
	if p := job.Spec.PodFailurePolicy; p == nil || len(p.Rules) != 1 || p.Rules[0].OnExitCodes == nil ||
		p.Rules[0].OnExitCodes.ContainerName == nil || *p.Rules[0].OnExitCodes.ContainerName != c.Name {
		t.Errorf("podFailurePolicy %+v: want the rule on container %s", p, c.Name)
	}

	data := t.TempDir()
	input := filepath.Join(data, "pairs.tsv")
	pairs, err := os.ReadFile("../testdata/cli/pairs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(input, pairs, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		args := make([]string, len(c.Args))
		for j, a := range c.Args {
			a = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(i))
			a = strings.ReplaceAll(a, "/data/", data+"/")
			if strings.HasPrefix(a, "--model=") {
				a = "--model=../testdata/models/tiny"
			}
			args[j] = a
		}
		if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
			t.Fatalf("index %d: minilm %q: %v\n%s", i, args, err, out)
		}
	}
	whole, err := exec.Command(binary, "score", "--model=../testdata/models/tiny", "--quiet", input).Output()
	if err != nil {
		t.Fatal(err)
	}
	outs, _ := filepath.Glob(filepath.Join(data, "scored-*.tsv"))
	if len(outs) != n {
		t.Fatalf("%d shard outputs, want %d", len(outs), n)
	}
	merge := exec.Command("sh", "-c", `sort -m -s -t "$(printf '\t')" -k1,1n scored-*.tsv | cut -f2-`)
	merge.Dir, merge.Env = data, append(os.Environ(), "LC_ALL=C")
	merged, err := merge.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(merged) != string(whole) {
		t.Errorf("merged shards differ from the unsharded run:\n%s\nwant\n%s", merged, whole)
	}
}
