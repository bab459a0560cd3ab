package main

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// appMetadataKey is the template metadata `sam publish` reads.
const appMetadataKey = "AWS::ServerlessRepo::Application"

// rewriteTemplate returns the SAM template src made to deploy a release:
// every AWS::Serverless::Function's CodeUri is codeURI (the zip, a path
// beside the template), its Metadata.BuildMethod is removed (a zip needs
// no build; an emptied Metadata goes too), and the application metadata's
// SemanticVersion is version. It also returns the local files that
// metadata names (LicenseUrl, ReadmeUrl), which must ship beside the
// template for `sam package` to upload them.
//
// The edit is made on yaml.v3's node tree, which keeps the short-form
// intrinsic tags (!Ref, !Sub, !GetAtt, ...) and the comments; the output
// is re-encoded, so long folded strings may be laid out differently.
func rewriteTemplate(src []byte, version, codeURI string) ([]byte, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("not a YAML mapping")
	}
	root := doc.Content[0]

	app := lookup(lookup(root, "Metadata"), appMetadataKey)
	if app == nil || app.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("the template has no Metadata.%s", appMetadataKey)
	}
	sv := lookup(app, "SemanticVersion")
	if sv == nil || sv.Kind != yaml.ScalarNode {
		return nil, nil, fmt.Errorf("the template has no Metadata.%s.SemanticVersion", appMetadataKey)
	}
	setString(sv, version)
	var local []string
	for _, key := range []string{"LicenseUrl", "ReadmeUrl"} {
		v := lookup(app, key)
		if v == nil || v.Kind != yaml.ScalarNode || strings.Contains(v.Value, "://") {
			continue
		}
		if clean := path.Clean(v.Value); clean != v.Value || strings.Contains(clean, "/") {
			return nil, nil, fmt.Errorf("the template's Metadata.%s.%s is %q: want a file beside the template", appMetadataKey, key, v.Value)
		}
		local = append(local, v.Value)
	}

	resources := lookup(root, "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return nil, nil, errors.New("the template has no Resources")
	}
	functions := 0
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if typ := lookup(res, "Type"); typ == nil || typ.Value != "AWS::Serverless::Function" {
			continue
		}
		functions++
		props := lookup(res, "Properties")
		code := lookup(props, "CodeUri")
		if code == nil || code.Kind != yaml.ScalarNode {
			return nil, nil, fmt.Errorf("%s: no CodeUri to point at the zip", name)
		}
		setString(code, codeURI)
		if md := lookup(res, "Metadata"); md != nil {
			remove(md, "BuildMethod")
			remove(md, "BuildProperties")
			if len(md.Content) == 0 {
				remove(res, "Metadata")
			}
		}
	}
	if functions == 0 {
		return nil, nil, errors.New("the template has no AWS::Serverless::Function")
	}

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	slices.Sort(local)
	return buf.Bytes(), local, nil
}

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// remove deletes key and its value from mapping m.
func remove(m *yaml.Node, key string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// setString makes n the plain string s, quoted on output if YAML would
// otherwise read another type (a version such as 1.2 is no float here).
func setString(n *yaml.Node, s string) {
	n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", s, 0
}
