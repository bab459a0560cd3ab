// Package tokentest makes Aiven-shaped tokens for tests and finds their
// fragments in output. Tests import it; the Lambda binary never does
// (internal/deploy's dependency test).
package tokentest

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// AivenShaped is a token as Aiven issues them: 372 characters of standard
// base64, with "AVNU_" in front when avnu is set.
func AivenShaped(t testing.TB, avnu bool) string {
	t.Helper()
	b := make([]byte, 279)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	tok := base64.StdEncoding.EncodeToString(b)
	if len(tok) != 372 {
		t.Fatalf("token is %d characters", len(tok))
	}
	if avnu {
		return "AVNU_" + tok
	}
	return tok
}

// Leaks reports the first run of 16 or more characters of tok in out.
func Leaks(out, tok string) (string, bool) {
	for i := 0; i+16 <= len(tok); i++ {
		if strings.Contains(out, tok[i:i+16]) {
			return tok[i : i+16], true
		}
	}
	return "", false
}
