package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	makeTarget  = regexp.MustCompile(`^([A-Za-z0-9_-][A-Za-z0-9_.-]*):(?:[^=]|$)`)
	makeHelpDoc = regexp.MustCompile(`^## ([A-Za-z0-9_.-]+): (\S.*)$`)
)

// makeTargets returns the Makefile's targets in order, and the one-line
// description each `## target: description` line gives.
func makeTargets(makefile string) (targets []string, docs map[string]string, phony []string) {
	docs = map[string]string{}
	for _, line := range strings.Split(makefile, "\n") {
		if rest, ok := strings.CutPrefix(line, ".PHONY:"); ok {
			phony = append(phony, strings.Fields(rest)...)
			continue
		}
		if m := makeHelpDoc.FindStringSubmatch(line); m != nil {
			docs[m[1]] = m[2]
			continue
		}
		if m := makeTarget.FindStringSubmatch(line); m != nil {
			targets = append(targets, m[1])
		}
	}
	return targets, docs, phony
}

// Every target has a one-line description, every description a target,
// every target is .PHONY (none makes a file of its name), and `make help`
// lists each with its description.
func TestEveryMakeTargetHasAHelpLine(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets, docs, phony := makeTargets(string(data))
	for _, want := range []string{"help", "demo", "test", "build", "release"} {
		if !slices.Contains(targets, want) {
			t.Fatalf("found targets %v, no %s: is the parser right?", targets, want)
		}
	}
	for _, target := range targets {
		if docs[target] == "" {
			t.Errorf("target %s has no `## %s: <what it does>` line", target, target)
		}
		if !slices.Contains(phony, target) {
			t.Errorf("target %s is not .PHONY", target)
		}
	}
	for name := range docs {
		if !slices.Contains(targets, name) {
			t.Errorf("`## %s:` describes no target", name)
		}
	}

	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("make is not installed, so `make help` is not run: %v", err)
	}
	cmd := exec.Command("make", "--no-print-directory", "-C", repoRoot(t), "help")
	cmd.Env = childMakeEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(targets) {
		t.Errorf("make help prints %d lines for %d targets:\n%s", len(lines), len(targets), out)
	}
	for i, target := range targets {
		if i >= len(lines) {
			break
		}
		if f := strings.Fields(lines[i]); len(f) < 2 || f[0] != target || strings.Join(f[1:], " ") != strings.Join(strings.Fields(docs[target]), " ") {
			t.Errorf("make help line %d is %q, want %s and %q", i+1, lines[i], target, docs[target])
		}
	}
}
