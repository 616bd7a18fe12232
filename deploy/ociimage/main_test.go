package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImageTarball builds a static minilm, packs it with writeImage, reads
// the tarball back as an OCI layout and checks the image: one layer holding
// the binary byte for byte (and it runs), and the config the Dockerfile's
// final stage declares.
func TestImageTarball(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "minilm")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -X main.version=v9.8.7", "-o", bin, "../../cmd/minilm")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux") // the image's platform, whatever the host
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "minilm.oci.tar")
	o := options{binary: bin, dockerfile: "../Dockerfile", version: "v9.8.7", arch: "amd64", caBundle: ca, refName: "minilm:v9.8.7"}
	if err := writeImage(o, out); err != nil {
		t.Fatal(err)
	}

	// Unpack the tarball and open it as an OCI layout.
	lay := filepath.Join(dir, "layout")
	untar(t, out, lay)
	if b, err := os.ReadFile(filepath.Join(lay, "oci-layout")); err != nil || !strings.Contains(string(b), `"imageLayoutVersion"`) {
		t.Fatalf("oci-layout file: %q, %v", b, err)
	}
	idx, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "minilm:v9.8.7" {
		t.Fatalf("index: %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want OCI", mt)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if !slices.Equal(c.Entrypoint, []string{"/minilm"}) || !slices.Equal(c.Cmd, []string{"serve", "--addr", "0.0.0.0:8080"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", c.User)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 8080/tcp", c.ExposedPorts)
	}
	if !slices.Contains(c.Env, "HF_HUB_CACHE=/models") {
		t.Errorf("env %q lacks HF_HUB_CACHE=/models", c.Env)
	}
	if c.Labels["org.opencontainers.image.version"] != "v9.8.7" || c.Labels["org.opencontainers.image.title"] != "minilm" {
		t.Errorf("labels %v", c.Labels)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	var binInImage []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
		if h.Name == "minilm" {
			binInImage, _ = io.ReadAll(tr)
		}
	}
	want, _ := os.ReadFile(bin)
	if h := files["minilm"]; h == nil || h.Mode != 0o755 || !bytes.Equal(binInImage, want) {
		t.Errorf("/minilm in the layer: header %+v, %d bytes; want the binary (%d bytes), mode 0755", h, len(binInImage), len(want))
	}
	if h := files["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("/tmp: %+v, want mode 1777", h)
	}
	if h := files["models/"]; h == nil || h.Uid != 65532 {
		t.Errorf("/models: %+v, want owned by 65532", h)
	}
	if files["etc/ssl/certs/ca-certificates.crt"] == nil {
		t.Error("CA bundle missing")
	}

	// The packed binary is the one that runs (on a linux host).
	if runtime.GOOS == "linux" {
		ran := filepath.Join(dir, "from-image")
		if err := os.WriteFile(ran, binInImage, 0o755); err != nil {
			t.Fatal(err)
		}
		if v, err := exec.Command(ran, "--version").Output(); err != nil || !strings.HasPrefix(string(v), "minilm v9.8.7 ") {
			t.Errorf("/minilm --version = %q, %v", v, err)
		}
	}

	// Reproducible: the same inputs give the same bytes.
	again := filepath.Join(dir, "again.tar")
	if err := writeImage(o, again); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two builds of the same binary differ")
	}
}

func TestImageRejects(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "script")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	for _, o := range []options{
		{binary: notELF, dockerfile: "../Dockerfile"},
		{binary: filepath.Join(dir, "missing"), dockerfile: "../Dockerfile"},
		{binary: notELF, dockerfile: filepath.Join(dir, "missing")},
	} {
		if err := writeImage(o, filepath.Join(dir, "out.tar")); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.tar")); err == nil {
		t.Error("a failed build left its output")
	}
}

func untar(t *testing.T, file, dst string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
