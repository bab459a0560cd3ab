package deploy

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// makeVars returns the Makefile's simple assignments (NAME := value and
// NAME ?= value), enough to expand the variables a recipe uses.
func makeVars(makefile string) map[string]string {
	vars := map[string]string{}
	assign := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(?::=|\?=|=)\s*(.*)$`)
	for _, line := range strings.Split(makefile, "\n") {
		if m := assign.FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.TrimSpace(m[2])
		}
	}
	return vars
}

// recipe returns the commands of target, variables expanded (one level
// deep is enough here), or ok=false if the target does not exist.
func recipe(makefile, target string) (string, bool) {
	vars := makeVars(makefile)
	lines := strings.Split(makefile, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, target+":") {
			continue
		}
		var cmds []string
		for _, cmd := range lines[i+1:] {
			if !strings.HasPrefix(cmd, "\t") {
				break
			}
			cmds = append(cmds, strings.TrimSpace(cmd))
		}
		out := strings.Join(cmds, "\n")
		for name, value := range vars {
			if name != "ARTIFACTS_DIR" {
				out = strings.ReplaceAll(out, "$("+name+")", value)
			}
		}
		return out, true
	}
	return "", false
}

// `sam build` with BuildMethod makefile runs `make build-<LogicalId>` and
// packages whatever lands in $(ARTIFACTS_DIR); provided.al2023 runs the
// file named bootstrap there.
func TestMakefileBuildsForSAM(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	tpl := loadTemplate(t)
	for name, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" || r.Metadata["BuildMethod"] != "makefile" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			cmds, ok := recipe(string(data), "build-"+name)
			if !ok {
				t.Fatalf("Makefile has no build-%s target", name)
			}
			if !strings.Contains(cmds, "-o $(ARTIFACTS_DIR)/bootstrap") {
				t.Errorf("build-%s does not write $(ARTIFACTS_DIR)/bootstrap:\n%s", name, cmds)
			}
			// The binary must match the function's Architectures and OS.
			for _, want := range []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"} {
				if !strings.Contains(cmds, want) {
					t.Errorf("build-%s: no %s in\n%s", name, want, cmds)
				}
			}
		})
	}
}

// `make release VERSION=x.y.z` twice gives the same bytes: the zip is
// reproducible (sorted entries, fixed timestamps and modes, whatever the
// build's own file times), its .sha256 file checks in `sha256sum -c` form,
// and the template beside it deploys the zip as shipped: its function's
// CodeUri is the zip, it has no BuildMethod, it carries the release's
// version, and it passes cfn-lint (where installed), with the LICENSE and
// README.md its metadata names beside it for `sam package`. It needs make
// and go, and nothing else (no zip, no sha256sum).
func TestMakeReleaseIsReproducible(t *testing.T) {
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	root := repoRoot(t)
	const version = "0.0.0-test"
	const zipName = "aiven-token-rotator-" + version + "-linux-arm64.zip"
	release := func(dir string) {
		t.Helper()
		cmd := exec.Command("make", "--no-print-directory", "-C", root, "release", "VERSION="+version, "RELEASE_DIR="+dir)
		cmd.Env = childMakeEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make release: %v\n%s", err, out)
		}
	}
	first, second := t.TempDir(), t.TempDir()
	release(first)
	release(second)

	read := func(dir, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{zipName, zipName + ".sha256", "template.yaml", "LICENSE", "README.md"} {
		if !bytes.Equal(read(first, name), read(second, name)) {
			t.Errorf("%s differs between two builds", name)
		}
	}
	if entries, _ := os.ReadDir(first); len(entries) != 5 {
		t.Errorf("release dir holds %d files, want the zip, its checksum, the template, LICENSE and README.md", len(entries))
	}

	zipBytes := read(first, zipName)
	sum := sha256.Sum256(zipBytes)
	if got, want := string(read(first, zipName+".sha256")), hex.EncodeToString(sum[:])+"  "+zipName+"\n"; got != want {
		t.Errorf("checksum file %q, want %q", got, want)
	}
	checkReleasedTemplate(t, filepath.Join(first, "template.yaml"), version, zipName)
	for _, name := range []string{"LICENSE", "README.md"} {
		if !bytes.Equal(read(first, name), read(root, name)) {
			t.Errorf("released %s is not the repository's", name)
		}
	}

	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: modified %s, want the fixed 1980-01-01", f.Name, f.Modified)
		}
	}
	if got := strings.Join(names, ","); got != "LICENSE,bootstrap" {
		t.Errorf("zip entries %s, want LICENSE,bootstrap (sorted)", got)
	}
	for _, f := range zr.File {
		if f.Name == "bootstrap" && f.Mode().Perm() != 0o755 {
			t.Errorf("bootstrap mode %v, want 0755: Lambda runs it", f.Mode())
		}
	}
}

// checkReleasedTemplate proves the released template deploys the zip
// beside it as shipped.
func checkReleasedTemplate(t *testing.T, path, version, zipName string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tpl := parseTemplate(t, data)
	fn := tpl.resource(t, "RotatorFunction", "AWS::Serverless::Function")
	if got := fn.Properties["CodeUri"]; got != zipName {
		t.Errorf("released CodeUri = %v, want %s (beside the template)", got, zipName)
	}
	if _, ok := fn.Metadata["BuildMethod"]; ok || len(fn.Metadata) != 0 {
		t.Errorf("released RotatorFunction.Metadata = %v, want none: nothing is left to build", fn.Metadata)
	}
	app, _ := tpl.Metadata["AWS::ServerlessRepo::Application"].(map[string]any)
	if got := app["SemanticVersion"]; got != version {
		t.Errorf("released SemanticVersion = %v, want %s", got, version)
	}
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Log("cfn-lint not on PATH: the released template is not linted here")
		return
	}
	if out, err := exec.Command(lint, path).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint on the released template: %v\n%s", err, out)
	}
}

// A bad VERSION fails before anything is built.
func TestMakeReleaseRefusesABadVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("make is not installed: %v", err)
	}
	dir := t.TempDir()
	for _, v := range []string{"", "v1.2.3", "1.2", "1.2.3; rm -rf /"} {
		cmd := exec.Command("make", "--no-print-directory", "-C", repoRoot(t), "release", "VERSION="+v, "RELEASE_DIR="+dir)
		cmd.Env = childMakeEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "usage: make release VERSION=x.y.z") {
			t.Errorf("VERSION=%q: err %v, output %s; want the usage line", v, err, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused release wrote %d files", len(entries))
	}
}

// childMakeEnv is the test's environment without the flags of a make that
// may be running the tests (`make test`), so the child make starts afresh.
func childMakeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES":
			continue
		}
		env = append(env, kv)
	}
	return env
}
