// Command ociimage builds the minilm container image as an OCI image layout
// tarball, without Docker or any daemon: an empty base and one layer holding
// the static binary at /minilm (plus /tmp, /models and, when given, a CA
// bundle for downloads from the Hub), with the entrypoint, command, user,
// exposed port, environment and labels that deploy/Dockerfile's final stage
// declares, so both ways give the same container.
//
//	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=v1.0.0" -o minilm ./cmd/minilm
//	go run ./deploy/ociimage -binary minilm -version v1.0.0 -o minilm.oci.tar
//
// The tarball loads with `podman load -i minilm.oci.tar`, `docker load` (25+)
// or `skopeo copy oci-archive:minilm.oci.tar ...`.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/minilm-dev/minilm/deploy"
)

// options say what goes into the image.
type options struct {
	binary     string // the static minilm binary
	dockerfile string // whose final stage gives the config
	version    string // replaces ${VERSION} in labels
	arch       string // GOARCH of the binary
	caBundle   string // copied to /etc/ssl/certs/ca-certificates.crt; "" for none
	refName    string // org.opencontainers.image.ref.name annotation in the index
}

// epoch is the timestamp of every file and of the image: a fixed one makes the
// tarball reproducible (same binary, same bytes).
var epoch = time.Unix(0, 0).UTC()

func main() {
	var o options
	out := flag.String("o", "minilm.oci.tar", "write the OCI layout tarball to `FILE`")
	flag.StringVar(&o.binary, "binary", "minilm", "the static minilm `binary` (CGO_ENABLED=0) to put at /minilm")
	flag.StringVar(&o.dockerfile, "dockerfile", "deploy/Dockerfile", "`Dockerfile` whose final stage gives entrypoint, cmd, user, ports, env, labels")
	flag.StringVar(&o.version, "version", "devel", "image `version` (the org.opencontainers.image.version label)")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "the binary's `GOARCH`")
	flag.StringVar(&o.caBundle, "ca-bundle", defaultCABundle(), "CA certificates `file` for HTTPS downloads (\"\": none)")
	flag.StringVar(&o.refName, "ref", "minilm:latest", "`name` annotated on the image in the layout")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ociimage: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := writeImage(o, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func defaultCABundle() string {
	const p = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// buildImage assembles the image in memory.
func buildImage(o options) (v1.Image, error) {
	df, err := os.Open(o.dockerfile)
	if err != nil {
		return nil, fmt.Errorf("open Dockerfile: %w", err)
	}
	d, err := deploy.ParseDockerfile(df)
	df.Close()
	if err != nil {
		return nil, err
	}
	if len(d.Entrypoint) != 1 {
		return nil, fmt.Errorf("%s: ENTRYPOINT %q: want the binary alone", o.dockerfile, d.Entrypoint)
	}
	layerTar, err := rootfs(o, d.Entrypoint[0])
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: epoch},
		CreatedBy: "ociimage: " + filepath.Base(o.binary) + " at " + d.Entrypoint[0],
	}})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", o.arch, v1.Time{Time: epoch}
	cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User = d.Entrypoint, d.Cmd, d.User
	cf.Config.WorkingDir = "/"
	cf.Config.ExposedPorts = map[string]struct{}{}
	for _, p := range d.Expose {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		cf.Config.ExposedPorts[p] = struct{}{}
	}
	cf.Config.Env = nil
	for _, k := range sortedKeys(d.Env) {
		cf.Config.Env = append(cf.Config.Env, k+"="+d.Env[k])
	}
	cf.Config.Labels = map[string]string{}
	for k, v := range d.Labels {
		cf.Config.Labels[k] = strings.ReplaceAll(v, "${VERSION}", o.version)
	}
	return mutate.ConfigFile(img, cf)
}

// rootfs is the one layer: the binary, an empty /tmp and /models (the
// Hugging Face cache) writable by the image's user, and the CA bundle.
func rootfs(o options, target string) ([]byte, error) {
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		return nil, fmt.Errorf("%s: not an ELF binary (build it for linux)", o.binary)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: epoch, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	err = errors.Join(
		file(strings.TrimPrefix(target, "/"), 0o755, bin),
		dir("tmp", 0o1777, 0),
		dir("models", 0o755, 65532),
	)
	if err == nil && o.caBundle != "" {
		var ca []byte
		if ca, err = os.ReadFile(o.caBundle); err == nil {
			err = errors.Join(dir("etc", 0o755, 0), dir("etc/ssl", 0o755, 0), dir("etc/ssl/certs", 0o755, 0),
				file("etc/ssl/certs/ca-certificates.crt", 0o644, ca))
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	return buf.Bytes(), nil
}

// writeImage writes the image as an OCI image layout, tarred, to out.
func writeImage(o options, out string) error {
	img, err := buildImage(o)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ociimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err == nil {
		err = p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": o.refName}))
	}
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	if err = tarDir(f, dir); err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// tarDir writes the files under dir, in name order, with fixed times.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, ModTime: epoch})
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
