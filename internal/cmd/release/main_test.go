package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// minimalTemplate has what the release rewrites: a function built by
// make, and the application metadata with its local license and readme.
const minimalTemplate = `Transform: AWS::Serverless-2016-10-31
Metadata:
  AWS::ServerlessRepo::Application:
    Name: x
    SemanticVersion: 0.1.0
    LicenseUrl: LICENSE
    ReadmeUrl: README.md
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      CodeUri: .
      Role: !GetAtt Role.Arn
`

// writeInputs writes a bootstrap, a license and a template with the given
// file time and modes, as a build on another machine or day would leave them.
func writeInputs(t *testing.T, mtime time.Time, mode os.FileMode) (dir string) {
	t.Helper()
	dir = t.TempDir()
	for name, body := range map[string]string{"bootstrap": "\x7fELF binary", "LICENSE": "license text", "README.md": "readme", "template.yaml": minimalTemplate} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func release(t *testing.T, in string) []byte {
	t.Helper()
	out := t.TempDir()
	args := []string{"-version", "1.2.3", "-bootstrap", filepath.Join(in, "bootstrap"),
		"-template", filepath.Join(in, "template.yaml"), "-out", out, filepath.Join(in, "LICENSE")}
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "aiven-token-rotator-1.2.3-linux-arm64.zip"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The same contents give the same zip, whatever the files' times and modes.
func TestZipIgnoresFileTimesAndModes(t *testing.T) {
	a := release(t, writeInputs(t, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), 0o600))
	b := release(t, writeInputs(t, time.Date(2031, 7, 9, 23, 59, 58, 0, time.UTC), 0o777))
	if !bytes.Equal(a, b) {
		t.Fatal("two zips of the same contents differ")
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	in := writeInputs(t, time.Now(), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no version", []string{"-bootstrap", "x"}, "-version is required"},
		{"leading v", []string{"-version", "v1.2.3", "-bootstrap", "x"}, "not x.y.z"},
		{"two parts", []string{"-version", "1.2", "-bootstrap", "x"}, "not x.y.z"},
		{"no bootstrap", []string{"-version", "1.2.3"}, "-bootstrap is required"},
		{"missing bootstrap", []string{"-version", "1.2.3", "-bootstrap", filepath.Join(in, "nope"), "-out", t.TempDir()}, "nope"},
		{"two files one name", []string{"-version", "1.2.3", "-bootstrap", filepath.Join(in, "bootstrap"), "-out", t.TempDir(), filepath.Join(in, "bootstrap")}, "two files named bootstrap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}
