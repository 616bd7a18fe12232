package deploy

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testVersion is stamped into the binary the tests build with the
// Dockerfile's own build command.
const testVersion = "v0.0.0-deploytest"

var binary string // built by TestMain from deploy/Dockerfile's go build line

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "minilm-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "minilm")
	if err := buildLikeDockerfile(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func readDockerfile() (*Dockerfile, error) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseDockerfile(f)
}

// buildLikeDockerfile runs the Dockerfile's go build command in the
// repository root, writing to out instead of /out/minilm, so that what the
// tests run is what the image holds.
func buildLikeDockerfile(out string) error {
	d, err := readDockerfile()
	if err != nil {
		return err
	}
	if !strings.Contains(d.BuildCommand, "-o /out/minilm") {
		return fmt.Errorf("Dockerfile build line %q: want -o /out/minilm", d.BuildCommand)
	}
	cmd := exec.Command("sh", "-c", strings.Replace(d.BuildCommand, "/out/minilm", out, 1))
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "VERSION="+testVersion)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", d.BuildCommand, err, b)
	}
	return nil
}

// TestDockerfileBinary: the build line gives a static, stripped binary that
// reports the stamped version, and the commands the image runs exist.
func TestDockerfileBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the image's binary is linux; this %s build cannot show it is static", runtime.GOOS)
	}
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a program interpreter: not static (is CGO_ENABLED=0 set?)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links %q: not static", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: -ldflags -s missing")
	}
	out, err := exec.Command(binary, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "minilm "+testVersion+" ") {
		t.Errorf("minilm --version = %q, %v; want the stamped %s", out, err, testVersion)
	}
	if err := exec.Command(binary, "help", "download").Run(); err != nil {
		t.Errorf("the Dockerfile's model stage runs `minilm download`: minilm help download: %v", err)
	}
}

// TestDockerfileFinalStage checks the runtime stage against the issue's
// contract and against the Kubernetes manifests.
func TestDockerfileFinalStage(t *testing.T) {
	d, err := readDockerfile()
	if err != nil {
		t.Fatal(err)
	}
	if d.Base != "gcr.io/distroless/static:nonroot" {
		t.Errorf("final stage FROM %s, want distroless static nonroot", d.Base)
	}
	if strings.Join(d.Entrypoint, " ") != "/minilm" {
		t.Errorf("ENTRYPOINT %q, want [/minilm]", d.Entrypoint)
	}
	if strings.Join(d.Cmd, " ") != "serve --addr 0.0.0.0:8080" {
		t.Errorf("CMD %q, want [serve --addr 0.0.0.0:8080]", d.Cmd)
	}
	if d.User != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (numeric, so runAsNonRoot can verify it)", d.User)
	}
	if strings.Join(d.Expose, " ") != "8080" {
		t.Errorf("EXPOSE %q, want 8080", d.Expose)
	}
	if d.Env["HF_HUB_CACHE"] != "/models" {
		t.Errorf("ENV HF_HUB_CACHE=%q, want /models", d.Env["HF_HUB_CACHE"])
	}
	if d.Labels["org.opencontainers.image.version"] != "${VERSION}" {
		t.Errorf("version label %q, want ${VERSION}", d.Labels["org.opencontainers.image.version"])
	}
}

func TestParseDockerfile(t *testing.T) {
	d, err := ParseDockerfile(strings.NewReader(`FROM a AS b
RUN go build \
  -o /x .
# comment
FROM c
ENV A=1 B="two words"
LABEL x.y="z"
USER 1:1
EXPOSE 80 443/udp
ENTRYPOINT ["/bin"]
CMD ["a", "b"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if d.BuildCommand != "go build  -o /x ." || d.Base != "c" || d.User != "1:1" ||
		strings.Join(d.Expose, ",") != "80,443/udp" || d.Env["B"] != "two words" || d.Env["A"] != "1" ||
		d.Labels["x.y"] != "z" || strings.Join(d.Cmd, ",") != "a,b" || strings.Join(d.Entrypoint, ",") != "/bin" {
		t.Errorf("parsed %+v", d)
	}
	for _, bad := range []string{"", "FROM a\n", "RUN go build\n", "FROM a\nRUN go build\nCMD serve\n", "FROM a\nRUN go build\nENV novalue\n", "FROM a\nRUN go build\nENV a=\"open\n"} {
		if _, err := ParseDockerfile(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseDockerfile(%q): no error", bad)
		}
	}
}

func FuzzParseDockerfile(f *testing.F) {
	if b, err := os.ReadFile("Dockerfile"); err == nil {
		f.Add(string(b))
	}
	f.Add("FROM a\nRUN go build \\\n\nENV a=\"b\" c=d\nLABEL =x\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDockerfile(strings.NewReader(s))
		if err == nil && (d.BuildCommand == "" || d.Base == "") {
			t.Errorf("accepted without a build line or base: %+v", d)
		}
	})
}
