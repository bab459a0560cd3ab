package deploy

// Review of issue 21 (adoption): what a parameter's AllowedPattern lets
// through, CloudFormation deploys without a word; if the function then
// refuses the value, every invocation fails at init (functions/rotator:
// "init failed") and the stack looks healthy until the first rotation.
// So every value a pattern accepts must be one the function accepts.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/rotation"
)

// acceptedByFunction says whether the function starts with the stack's
// defaults and one variable changed, as template.yaml sets them.
func acceptedByFunction(name, value string) error {
	env := map[string]string{
		"AIVEN_WEB_URL":        "https://api.aiven.io",
		"ALLOWED_API_HOSTS":    "api.aiven.io",
		"PREVIOUS_TOKEN_GRACE": "24h",
		"ROTATE_BEFORE_EXPIRY": "168h",
		"STUCK_ROTATION_AFTER": "24h",
		"MANAGER_TAG_VALUE":    "stack",
	}
	env[name] = value
	_, err := rotation.ConfigFromEnv(func(k string) string { return env[k] })
	return err
}

func TestReview21PatternsAcceptOnlyWhatTheFunctionAccepts(t *testing.T) {
	tpl := loadTemplate(t)
	for _, tc := range []struct {
		param, env string
		values     []string
	}{
		// The description says "at most 168h"; the pattern takes any
		// number of hours.
		{"PreviousTokenGrace", "PREVIOUS_TOKEN_GRACE", []string{"24h", "0s", "90m", "1h30m", "168h", "169h", "200h", "720h", "10081m"}},
		// The function wants scheme://host[:port], no path, no user info.
		{"AivenApiUrl", "AIVEN_WEB_URL", []string{"https://api.aiven.io", "https://api.aiven.io/", "https://api.aiven.io/v1", "https://ops@api.aiven.io", "https://api.aiven.io?x=1"}},
	} {
		pattern, _ := tpl.Parameters[tc.param]["AllowedPattern"].(string)
		re := regexp.MustCompile(pattern)
		for _, v := range tc.values {
			if !re.MatchString(v) {
				continue
			}
			if err := acceptedByFunction(tc.env, v); err != nil {
				t.Errorf("%s=%q: the template's AllowedPattern accepts it, so the stack deploys, but the function refuses it at every init: %v", tc.param, v, err)
			}
		}
	}
}

// A public repository carries sources, not build output: `make demo`
// writes bin/demo, but a 20 MB x86-64 ELF named `demo` is tracked at the
// repository's root (added in 5e16b7b), in every clone and every source
// tarball of a release.
func TestReview21NoExecutableIsTracked(t *testing.T) {
	root := repoRoot(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("skipped: git not on PATH")
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("skipped: not a git checkout (%v)", err)
	}
	for _, name := range bytes.Split(bytes.TrimRight(out, "\x00"), []byte{0}) {
		path := filepath.Join(root, string(name))
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		head := make([]byte, 4)
		n, _ := f.Read(head)
		f.Close()
		if n == 4 && bytes.Equal(head, []byte("\x7fELF")) {
			t.Errorf("%s is tracked and is an ELF executable (build output): git rm --cached it and list it in .gitignore", name)
		}
	}
}

// An operator who gets an alarm's mail looks its name up in docs/deploy.md
// ("Alarms"): every alarm and rule the template creates is named there.
func TestReview21EveryAlarmIsDocumented(t *testing.T) {
	tpl := loadTemplate(t)
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" && r.Type != "AWS::Events::Rule" {
			continue
		}
		if !bytes.Contains(doc, []byte("`"+name+"`")) {
			t.Errorf("%s (%s) is not named in docs/deploy.md", name, r.Type)
		}
	}
}
