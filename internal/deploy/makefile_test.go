package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
