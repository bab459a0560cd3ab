package deploy

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The Lambda binary carries production code only: no emulator, local
// stack, Runtime API harness or developer command, and nothing those pull
// in for tests (google/uuid, kin-openapi). It is listed for the build that
// ships (linux/arm64, lambda.norpc).
func TestLambdaDependsOnProductionPackagesOnly(t *testing.T) {
	const module = "github.com/aiven-token-rotator/aiven-token-rotator/"
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "./functions/rotator")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := []string{
		"functions/rotator",
		"internal/aiven",
		"internal/boundedhttp",
		"internal/fleet",
		"internal/lambdaservice",
		"internal/metrics",
		"internal/rotation",
		"internal/runtimeapi",
		"internal/scrub",
		"internal/secret",
		"internal/secretsmanager",
	}
	forbidden := []string{"github.com/google/uuid", "github.com/getkin/kin-openapi", "github.com/awslabs/goformation"}
	var ours []string
	for _, pkg := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(pkg, module); ok {
			ours = append(ours, rest)
			if !slices.Contains(allowed, rest) {
				t.Errorf("the Lambda binary depends on %s, which is not on the production list", rest)
			}
		}
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("the Lambda binary depends on %s, a test-only library", pkg)
			}
		}
	}
	if !slices.Contains(ours, "internal/rotation") {
		t.Fatalf("go list printed no project package; got %d lines", len(ours))
	}
}
