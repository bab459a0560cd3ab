package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// readTemplate reads a template as the deploy tests do: goformation's YAML
// reader turns the short-form tags into their long forms, resolving none.
func readTemplate(t *testing.T, data []byte) map[string]any {
	t.Helper()
	raw, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// The repository's own template, released: the function's code is the zip
// beside it, nothing is left to build, the version is the release's, and
// everything else is the same template, short-form tags included.
func TestRewriteRepositoryTemplate(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const zipName = "aiven-token-rotator-2.3.4-linux-arm64.zip"
	out, local, err := rewriteTemplate(src, "2.3.4", zipName)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"LICENSE", "README.md"}; !reflect.DeepEqual(local, want) {
		t.Errorf("local files %v, want %v", local, want)
	}
	before, after := readTemplate(t, src), readTemplate(t, out)

	fn := dig(after, "Resources", "RotatorFunction")
	if got := dig(fn, "Properties", "CodeUri"); got != zipName {
		t.Errorf("CodeUri = %v, want %s", got, zipName)
	}
	if md, ok := dig(fn, "Metadata").(map[string]any); ok {
		t.Errorf("RotatorFunction.Metadata = %v, want none: BuildMethod makes sam build the code the zip already is", md)
	}
	if got := dig(after, "Metadata", appMetadataKey, "SemanticVersion"); got != "2.3.4" {
		t.Errorf("SemanticVersion = %v, want 2.3.4", got)
	}

	// Put back what the release changed: the rest is untouched.
	dig(after, "Resources", "RotatorFunction", "Properties").(map[string]any)["CodeUri"] = dig(before, "Resources", "RotatorFunction", "Properties", "CodeUri")
	dig(after, "Resources", "RotatorFunction").(map[string]any)["Metadata"] = dig(before, "Resources", "RotatorFunction", "Metadata")
	dig(after, "Metadata", appMetadataKey).(map[string]any)["SemanticVersion"] = dig(before, "Metadata", appMetadataKey, "SemanticVersion")
	if !reflect.DeepEqual(before, after) {
		t.Error("the released template differs from the repository's in more than CodeUri, BuildMethod and SemanticVersion")
	}
	for _, tag := range []string{"!Ref ", "!Sub ", "!GetAtt ", "!If", "!Not", "!Equals", "!Join"} {
		if !bytes.Contains(out, []byte(tag)) {
			t.Errorf("short-form tag %s lost in the released template", tag)
		}
	}
	if !bytes.Contains(out, []byte("# Kept when the stack is deleted")) {
		t.Error("comments lost in the released template")
	}
}

// A version YAML would read as a number stays a string.
func TestRewriteKeepsVersionAString(t *testing.T) {
	out, _, err := rewriteTemplate([]byte(minimalTemplate), "1.0.0", "f.zip")
	if err != nil {
		t.Fatal(err)
	}
	if got := dig(readTemplate(t, out), "Metadata", appMetadataKey, "SemanticVersion"); got != "1.0.0" {
		t.Errorf("SemanticVersion = %#v", got)
	}
	if got := dig(readTemplate(t, out), "Resources", "Fn", "Properties", "Role"); !reflect.DeepEqual(got, map[string]any{"Fn::GetAtt": "Role.Arn"}) {
		t.Errorf("Role = %#v, want the !GetAtt kept", got)
	}
}

func TestRewriteRefusesATemplateItCannotRelease(t *testing.T) {
	for name, tc := range map[string]struct{ tpl, want string }{
		"not yaml":         {"a: [", "yaml"},
		"no metadata":      {"Resources: {}\n", "no Metadata"},
		"no version":       {"Metadata:\n  AWS::ServerlessRepo::Application:\n    Name: x\n", "SemanticVersion"},
		"no function":      {"Metadata:\n  AWS::ServerlessRepo::Application:\n    SemanticVersion: 0.1.0\nResources: {}\n", "no AWS::Serverless::Function"},
		"no CodeUri":       {strings.Replace(minimalTemplate, "      CodeUri: .\n", "", 1), "no CodeUri"},
		"readme elsewhere": {strings.Replace(minimalTemplate, "ReadmeUrl: README.md", "ReadmeUrl: ../README.md", 1), "beside the template"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := rewriteTemplate([]byte(tc.tpl), "1.2.3", "f.zip")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// A release writes the rewritten template with the license and readme it
// names, and the released template passes cfn-lint where it is installed.
func TestReleaseDirectoryDeploysAsShipped(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	in := writeInputs(t, time.Now(), 0o644)
	out := t.TempDir()
	args := []string{"-version", "3.0.1", "-bootstrap", filepath.Join(in, "bootstrap"),
		"-template", filepath.Join(root, "template.yaml"), "-out", out, filepath.Join(in, "LICENSE")}
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"LICENSE", "README.md", "aiven-token-rotator-3.0.1-linux-arm64.zip", "aiven-token-rotator-3.0.1-linux-arm64.zip.sha256", "template.yaml"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("release files %v, want %v", names, want)
	}
	for _, f := range []string{"LICENSE", "README.md"} {
		a, _ := os.ReadFile(filepath.Join(root, f))
		b, _ := os.ReadFile(filepath.Join(out, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s is not the repository's", f)
		}
	}
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not on PATH: the released template is not linted here")
	}
	if b, err := exec.Command(lint, filepath.Join(out, "template.yaml")).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint on the released template: %v\n%s", err, b)
	}
}
