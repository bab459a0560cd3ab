// Command release writes the files a tagged release carries: `make release
// VERSION=x.y.z`.
//
//	release -version 1.2.3 -bootstrap bin/release/bootstrap -template template.yaml -out bin/release [extra files...]
//
// It writes, in the -out directory:
//
//	aiven-token-rotator-<version>-linux-arm64.zip         bootstrap (mode 0755) and the extra files
//	aiven-token-rotator-<version>-linux-arm64.zip.sha256  its SHA-256, in `sha256sum -c` form
//	template.yaml                                         the SAM template, rewritten to deploy the zip
//	LICENSE, README.md (as the template's metadata names) for `sam package` / `sam publish`
//
// The released template differs from the repository's in three places
// (rewriteTemplate): every AWS::Serverless::Function's CodeUri names the
// zip beside it, its Metadata.BuildMethod is gone (nothing is left to
// build), and Metadata.AWS::ServerlessRepo::Application.SemanticVersion is
// the release's version. So `sam deploy --template-file <out>/template.yaml`
// deploys the released bytes as they are, and `sam package` uploads the
// zip, the license and the readme the template names.
//
// The zip is reproducible: entries sorted by name, every timestamp fixed
// at 1980-01-01T00:00:00Z (the earliest an MS-DOS timestamp can hold),
// fixed modes, whatever the files' own times and modes. The same inputs always give the same bytes, so anyone can
// rebuild a release from its tag and compare checksums. Running it twice
// overwrites the same files with the same bytes.
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// zipEpoch is the timestamp of every entry: MS-DOS time starts in 1980.
var zipEpoch = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// semver is x.y.z with an optional pre-release, as a tag names it without
// its leading v.
var semver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	version := fs.String("version", "", "release version, x.y.z")
	bootstrap := fs.String("bootstrap", "", "the built linux/arm64 bootstrap")
	template := fs.String("template", "template.yaml", "the SAM template to ship beside the zip")
	outDir := fs.String("out", "bin/release", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *version == "":
		return errors.New("-version is required: make release VERSION=x.y.z")
	case !semver.MatchString(*version):
		return fmt.Errorf("VERSION %q is not x.y.z (semantic version, no leading v)", *version)
	case *bootstrap == "":
		return errors.New("-bootstrap is required")
	}

	entries := []entry{{name: "bootstrap", path: *bootstrap, mode: 0o755}}
	for _, p := range fs.Args() {
		entries = append(entries, entry{name: filepath.Base(p), path: p, mode: 0o644})
	}
	zipBytes, err := buildZip(entries)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	name := "aiven-token-rotator-" + *version + "-linux-arm64.zip"
	sum := sha256.Sum256(zipBytes)
	src, err := os.ReadFile(*template)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	tpl, local, err := rewriteTemplate(src, *version, name)
	if err != nil {
		return fmt.Errorf("template %s: %w", *template, err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{name, zipBytes},
		{name + ".sha256", []byte(hex.EncodeToString(sum[:]) + "  " + name + "\n")},
		{"template.yaml", tpl},
	}
	// The files the application metadata names by a local path (LicenseUrl,
	// ReadmeUrl), relative to the template as sam package reads them.
	for _, rel := range local {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(*template), rel))
		if err != nil {
			return fmt.Errorf("template metadata: %w", err)
		}
		files = append(files, struct {
			name string
			data []byte
		}{rel, data})
	}
	for _, f := range files {
		path := filepath.Join(*outDir, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(out, path)
	}
	return nil
}

type entry struct {
	name, path string
	mode       os.FileMode
}

// buildZip writes the entries, sorted by name, with fixed metadata.
func buildZip(entries []entry) ([]byte, error) {
	slices.SortFunc(entries, func(a, b entry) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, e := range entries {
		if i > 0 && entries[i-1].name == e.name {
			return nil, fmt.Errorf("two files named %s", e.name)
		}
		data, err := os.ReadFile(e.path)
		if err != nil {
			return nil, err
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: zipEpoch}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
