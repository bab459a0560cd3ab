// Package deploy holds no code: its tests check the deployment artefacts at
// the repository root (template.yaml, events/, the Makefile's SAM target),
// so that a change to the rotator's needs or to the template cannot drift
// apart unnoticed. They read the files only; nothing is deployed.
package deploy
