package deploy

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// cfn-lint applies the SAM transform and checks the result against
// CloudFormation's resource schemas (property names, enum values, types),
// which the structural tests of template_test.go do not. Skipped where it is not installed.
func TestTemplatePassesCfnLint(t *testing.T) {
	if testing.Short() {
		t.Skip("cfn-lint takes seconds; skipped with -short")
	}
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not on PATH")
	}
	out, err := exec.Command(lint, filepath.Join(repoRoot(t), "template.yaml")).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint: %v\n%s", err, out)
	}
}
