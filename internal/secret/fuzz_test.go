package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

var (
	reasonsOnce sync.Once
	reasons     map[string]bool // every Reason secret.go can give, numbers as "#"
	digits      = regexp.MustCompile(`%d|[0-9]+`)
)

// reasonTemplates reads the Reason literals out of secret.go, so that the
// fuzz target knows every message Parse may give without a copy to rot.
func reasonTemplates(t testing.TB) map[string]bool {
	reasonsOnce.Do(func() {
		src, err := os.ReadFile("secret.go")
		if err != nil {
			t.Fatal(err)
		}
		lit := regexp.MustCompile("Reason: (?:fmt\\.Sprintf\\()?(\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`)")
		reasons = map[string]bool{}
		for _, m := range lit.FindAllSubmatch(src, -1) {
			s, err := strconv.Unquote(string(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			reasons[digits.ReplaceAllString(s, "#")] = true
		}
		if len(reasons) < 15 {
			t.Fatalf("found only %d Reason literals in secret.go", len(reasons))
		}
	})
	return reasons
}

// checkParseError: every error is a *FieldError naming a field the value
// has (or none), with one of secret.go's own reasons, only numbers filled
// in. So no error can quote any part of the input.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T is not a *FieldError: %v", err, err)
	}
	if fe.Field != "" && !contains(known, fe.Field) {
		t.Fatalf("error names field %q, not one of the value's", fe.Field)
	}
	if !reasonTemplates(t)[digits.ReplaceAllString(fe.Reason, "#")] {
		t.Fatalf("reason %q is not one of secret.go's", fe.Reason)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		sampleToken,
		"  " + sampleToken + "\n",
		`{"token":"` + sampleToken + `"}`,
		`{"token":"` + sampleToken + `","token_prefix":"AVNU_c2Vj","kind":"personal","api_url":"https://api.aiven.io","description":"ci","max_age_seconds":86400,"extend_when_used":true,"ip_allowlist":["10.0.0.0/8"],"scopes":["projects:read"],"previous_token_prefix":"old+/=","user":"a@example.com","expiry_time":"2030-01-01T00:00:00Z","created_at":"2029-01-01T00:00:00Z"}`,
		`{"token":"t0k","zeta": {"b" : [1, 2.50, "<&>"]},"alpha":"x\u00e9y","num":1e3}`,
		`{"token":"t0k","kind":"application","organization_id":"org1","application_user_id":"u1","manager_secret_id":"arn:x"}`,
		`{"token":"a\u0000b"}`, "a\x7fb", `{"token":"\u00e9"}`, `{"token":1}`, `{"token":null}`, `[1]`, `"x"`, `{`, ``, `{"token":"t","token":"u"}`,
		`{"token":"t","max_age_seconds":-1}`, `{"token":"t","max_age_seconds":1e400}`, `{"token":"t","scopes":null,"ip_allowlist":[]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := Parse(in)
		if err != nil {
			checkParseError(t, err)
			return
		}
		for i, tok := 0, v.Token.Reveal(); i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c >= 0x7f {
				t.Fatalf("accepted a token with byte %#x", c)
			}
		}
		out, err := v.Marshal()
		if err != nil {
			checkParseError(t, err) // over 64 KiB once re-encoded
			return
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("Marshal wrote invalid JSON: %q", out)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Marshal's output does not parse: %v\n%s", err, out)
		}
		if !again.Token.Equal(v.Token) || again.Kind != v.Kind || again.TokenPrefix != v.TokenPrefix || again.User != v.User {
			t.Fatalf("round trip changed a field:\n%+v\n%+v", v, again)
		}
		out2, err := again.Marshal()
		if err != nil || out2 != out {
			t.Fatalf("second round trip differs (%v):\n%s\n%s", err, out, out2)
		}
		// Unknown fields are kept byte for byte, through both trips.
		var raw map[string]json.RawMessage
		if json.Unmarshal([]byte(strings.TrimSpace(in)), &raw) == nil {
			for k, r := range raw {
				if contains(known, k) {
					continue
				}
				for _, val := range []*Value{v, again} {
					got, ok := val.unknown[k]
					if !ok || !bytes.Equal(got, r) {
						t.Fatalf("unknown field %q: kept %q, read %q", k, got, r)
					}
				}
			}
		}
	})
}

func FuzzMarker(f *testing.F) {
	f.Add("CI deploys", arnA, verA, "")
	f.Add("", arnB, "v1", "[aiven-token-rotator secret=0123456789abcdef version=x]")
	f.Add(strings.Repeat("é", 600), arnA, strings.Repeat("a", 64), "[aiven-token-rotator secret=0123456789abcdef version=[aiven-token-rotator secret=0123456789abcdef version=a]b]")
	f.Add("x [aiven-token-rotator secret=0123456789abcdef version=old] y", arnA, "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "\xff")
	f.Fuzz(func(t *testing.T, user, arn, version, description string) {
		// Whatever a description holds, a marker found in it renders to
		// itself, and stripMarkers leaves none behind.
		if m, ok := ParseMarker(description); ok {
			if back, ok := ParseMarker(m.String()); !ok || back != m {
				t.Fatalf("marker %+v does not round-trip through %q", m, m.String())
			}
		}
		if _, ok := ParseMarker(stripMarkers(description)); ok {
			t.Fatalf("stripMarkers(%q) left a marker: %q", description, stripMarkers(description))
		}

		m, err := NewMarker(arn, version)
		if err != nil {
			return
		}
		d := Describe(user, m)
		if len(d) > maxDescription {
			t.Fatalf("description is %d bytes, over %d", len(d), maxDescription)
		}
		if utf8.ValidString(user) && !utf8.ValidString(d) {
			t.Fatalf("Describe cut a character in half: %q", d)
		}
		if got, ok := ParseMarker(d); !ok || got != m {
			t.Fatalf("ParseMarker(Describe(...)) = %+v, %v; want %+v", got, ok, m)
		}
		// Describing twice changes nothing: a retried createSecret asks
		// for the same description.
		if again := Describe(d, m); again != d {
			t.Fatalf("Describe is not stable:\n%q\n%q", d, again)
		}
		if got := stripMarkers(d); !strings.HasPrefix(stripMarkers(user), got) {
			t.Fatalf("the user's description %q became %q", stripMarkers(user), got)
		}
	})
}
