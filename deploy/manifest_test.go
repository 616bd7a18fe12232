package deploy

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) these manifests use. Decoding strictly into it
// rejects misspelt fields as the CRD's schema would, without importing the
// operator's module and its controller-runtime dependencies.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// objects are the decoded manifests of one kustomize build (or file).
type objects struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	monitors    []*serviceMonitor
	jobs        []*batchv1.Job
	pvcs        []*corev1.PersistentVolumeClaim
	kinds       []string // "Kind/name" in order
}

// decodeStrict decodes one YAML document into the type of its kind;
// unknown fields, duplicate fields and unknown kinds are errors.
func (o *objects) decodeStrict(doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	into := func(v any) error { return yaml.UnmarshalStrict(doc, v) }
	var err error
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 Deployment":
		v := &appsv1.Deployment{}
		err, o.deployments = into(v), append(o.deployments, v)
	case "v1 Service":
		v := &corev1.Service{}
		err, o.services = into(v), append(o.services, v)
	case "policy/v1 PodDisruptionBudget":
		v := &policyv1.PodDisruptionBudget{}
		err, o.pdbs = into(v), append(o.pdbs, v)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		v := &autoscalingv2.HorizontalPodAutoscaler{}
		err, o.hpas = into(v), append(o.hpas, v)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		v := &serviceMonitor{}
		err, o.monitors = into(v), append(o.monitors, v)
	case "batch/v1 Job":
		v := &batchv1.Job{}
		err, o.jobs = into(v), append(o.jobs, v)
	case "v1 PersistentVolumeClaim":
		v := &corev1.PersistentVolumeClaim{}
		err, o.pvcs = into(v), append(o.pvcs, v)
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		err = into(&kustypes.Kustomization{})
	default:
		return fmt.Errorf("unexpected %s %s", head.APIVersion, head.Kind)
	}
	o.kinds = append(o.kinds, head.Kind+"/"+head.Metadata.Name)
	return err
}

func decodeAll(t *testing.T, name string, data []byte) *objects {
	t.Helper()
	o := &objects{}
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		if err := o.decodeStrict([]byte(doc)); err != nil {
			t.Fatalf("%s: document %d: %v", name, i+1, err)
		}
	}
	return o
}

// kustomizeBuild runs kustomize (the library kubectl apply -k embeds) on dir.
func kustomizeBuild(t *testing.T, dir string) *objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, "kustomize build "+dir, out)
}

// TestManifestFilesStrict: every YAML file under k8s/ (resources, patches,
// kustomizations) decodes strictly into its API type.
func TestManifestFilesStrict(t *testing.T) {
	n := 0
	err := filepath.WalkDir("k8s", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		decodeAll(t, path, data)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("%d manifest files, want the base, overlay and job (10 or more)", n)
	}
}

// TestStrictDecodeCatchesTypos proves the decoding is strict: a misspelt
// field in the real Deployment is an error.
func TestStrictDecodeCatchesTypos(t *testing.T) {
	data, err := os.ReadFile("k8s/base/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, typo := range [][2]string{{"readinessProbe:", "readynessProbe:"}, {"periodSeconds: 5", "periodSecond: 5"}, {"  replicas: 2", "  replicas: 2\n  replicas: 3"}} {
		bad := bytes.Replace(data, []byte(typo[0]), []byte(typo[1]), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%q not in deployment.yaml", typo[0])
		}
		if err := (&objects{}).decodeStrict(bad); err == nil {
			t.Errorf("%q → %q decoded without error", typo[0], typo[1])
		}
	}
}

func TestKustomizeBaseObjects(t *testing.T) {
	o := kustomizeBuild(t, "k8s")
	want := "Service/minilm Deployment/minilm HorizontalPodAutoscaler/minilm PodDisruptionBudget/minilm ServiceMonitor/minilm"
	if got := sortedJoin(o.kinds); got != sortedJoin(strings.Fields(want)) {
		t.Errorf("kustomize build k8s: %s, want %s", got, sortedJoin(strings.Fields(want)))
	}
}

func sortedJoin(s []string) string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return strings.Join(c, " ")
}
