package secret

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const sampleToken = "AVNU_c2VjcmV0LXRva2VuLXZhbHVlLWZvci10ZXN0cw+/="

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantErr   string // field named in the error, or "" for success
		check     func(t *testing.T, v *Value)
		errSubstr string
	}{
		{
			name: "bootstrap plain string, trimmed",
			in:   "  " + sampleToken + "\n",
			check: func(t *testing.T, v *Value) {
				if v.Token.Reveal() != sampleToken || v.TokenPrefix != "" || v.Kind != KindPersonal {
					t.Errorf("got token=%v prefix=%q kind=%q", v.Token.Reveal() == sampleToken, v.TokenPrefix, v.Kind)
				}
			},
		},
		{
			name: "JSON with every known field",
			in: `{"token":"` + sampleToken + `","token_prefix":"AVNU_c2Vj","kind":"personal","api_url":"https://api.aiven.io",
				"description":"ci","max_age_seconds":86400,"extend_when_used":true,"ip_allowlist":["10.0.0.0/8"],"scopes":["projects:read"],
				"previous_token_prefix":"old+/=","user":"a@example.com","expiry_time":"2030-01-01T00:00:00Z","created_at":"2029-01-01T00:00:00Z"}`,
			check: func(t *testing.T, v *Value) {
				if v.TokenPrefix != "AVNU_c2Vj" || *v.Description != "ci" || *v.MaxAgeSeconds != 86400 ||
					!*v.ExtendWhenUsed || (*v.IPAllowlist)[0] != "10.0.0.0/8" || (*v.Scopes)[0] != "projects:read" ||
					v.PreviousTokenPrefix != "old+/=" || v.User != "a@example.com" {
					t.Errorf("fields not decoded: %+v", v)
				}
			},
		},
		{name: "JSON but not an object", in: `["` + sampleToken + `"]`, errSubstr: "not an object"},
		{name: "JSON string", in: `"` + sampleToken + `"`, errSubstr: "not an object"},
		{name: "broken JSON object", in: `{"token": "` + sampleToken, errSubstr: "not valid JSON"},
		{name: "no token", in: `{"user":"x"}`, wantErr: "token"},
		{name: "null token", in: `{"token":null}`, wantErr: "token"},
		{name: "empty token", in: `{"token":""}`, wantErr: "token"},
		{name: "token not a string", in: `{"token":42}`, wantErr: "token"},
		{name: "token_prefix wrong type", in: `{"token":"` + sampleToken + `","token_prefix":["x"]}`, wantErr: "token_prefix"},
		{name: "max_age_seconds a string", in: `{"token":"` + sampleToken + `","max_age_seconds":"86400"}`, wantErr: "max_age_seconds"},
		{name: "extend_when_used a string", in: `{"token":"` + sampleToken + `","extend_when_used":"yes"}`, wantErr: "extend_when_used"},
		{name: "ip_allowlist of numbers", in: `{"token":"` + sampleToken + `","ip_allowlist":[1]}`, wantErr: "ip_allowlist"},
		{name: "scopes a string", in: `{"token":"` + sampleToken + `","scopes":"all"}`, wantErr: "scopes"},
		{name: "unknown kind", in: `{"token":"` + sampleToken + `","kind":"robot"}`, wantErr: "kind"},
		{name: "organization_id wrong type", in: `{"token":"` + sampleToken + `","kind":"application","organization_id":1}`, wantErr: "organization_id"},
		{name: "oversized", in: `{"token":"` + sampleToken + `","pad":"` + strings.Repeat("x", maxSize) + `"}`, errSubstr: "64 KiB"},
		{name: "empty", in: "   ", wantErr: "token"},
		{name: "plain string with inner whitespace", in: "abc def", wantErr: "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse(tt.in)
			if tt.wantErr == "" && tt.errSubstr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				tt.check(t, v)
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError", err)
			}
			if tt.wantErr != "" && fe.Field != tt.wantErr {
				t.Errorf("error names field %q, want %q (%v)", fe.Field, tt.wantErr, err)
			}
			if !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("error %q does not say %q", err, tt.errSubstr)
			}
			if strings.Contains(err.Error(), sampleToken) || strings.Contains(err.Error(), "86400") {
				t.Errorf("error %q holds a value", err)
			}
		})
	}
}

func TestMarshalPreservesUnknownFieldsByteForByte(t *testing.T) {
	in := `{"token":"` + sampleToken + `","zeta": {"b" : [1, 2.50, "<&>"]},"alpha":"x\u00e9y","num":1e3,"description":"mine"}`
	v, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	next := v.Next(Issued{Token: NewToken("NEWTOKEN"), TokenPrefix: "NEWPREFIX", User: "u@example.com", ExpiryTime: "2030-01-01T00:00:00Z", CreatedAt: "2029-01-01T00:00:00Z"})
	out, err := next.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"zeta":{"b" : [1, 2.50, "<&>"]}`, `"alpha":"x\u00e9y"`, `"num":1e3`, `"description":"mine"`,
		`"token":"NEWTOKEN"`, `"token_prefix":"NEWPREFIX"`, `"user":"u@example.com"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output %s lacks %s", out, want)
		}
	}
	if strings.Contains(out, sampleToken) {
		t.Error("the old token survived into the new version")
	}
	if !json.Valid([]byte(out)) {
		t.Fatalf("output is not JSON: %s", out)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := again.Marshal()
	if out2 != out {
		t.Errorf("round trip changed the value:\n%s\n%s", out, out2)
	}
}

func TestNextFromBootstrap(t *testing.T) {
	v, err := Parse(sampleToken)
	if err != nil {
		t.Fatal(err)
	}
	next := v.Next(Issued{Token: NewToken("NEW"), TokenPrefix: "NEWP", PreviousTokenPrefix: "OLDP", User: "u@example.com", CreatedAt: "2029-01-01T00:00:00Z"})
	out, err := next.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"token":"NEW","token_prefix":"NEWP","previous_token_prefix":"OLDP","user":"u@example.com","created_at":"2029-01-01T00:00:00Z"}`
	if out != want {
		t.Errorf("got %s\nwant %s", out, want)
	}
}

func TestMarshalRefusesOversizedVersion(t *testing.T) {
	v, err := Parse(`{"token":"t","pad":"` + strings.Repeat("x", maxSize-40) + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Next(Issued{Token: NewToken(strings.Repeat("T", 400)), TokenPrefix: "P", User: "u"}).Marshal(); err == nil {
		t.Fatal("Marshal accepted a value over 64 KiB")
	}
}

// Issue 7, defect 7: a token with a byte that cannot be sent in an HTTP
// header used to parse, and the call was then retried for nothing. Every
// such token is refused at parse time, in both forms, naming the field and
// quoting nothing of it.
func TestParseRefusesTokensThatAreNotHeaderValues(t *testing.T) {
	const head, tail = "AVNU_c2VjcmV0LXRva2Vu", "LXZhbHVlLWZvci10ZXN0cw=="
	bad := []struct{ name, inner, jsonInner string }{
		{"NUL", "\x00", `\u0000`},
		{"SOH", "\x01", `\u0001`},
		{"ESC", "\x1b", `\u001b`},
		{"DEL", "\x7f", "\x7f"},
		{"C1 CSI", "\u009b", `\u009b`},
		{"C1 NEL", "\u0085", `\u0085`},
		{"zero-width space", "\u200b", `\u200b`},
		{"non-ASCII letter", "é", "é"},
		{"invalid UTF-8", "\xff", "\xff"},
	}
	for _, b := range bad {
		tok := head + b.inner + tail
		for _, form := range []struct{ name, in string }{
			{"plain", tok},
			{"JSON", `{"token":"` + head + b.jsonInner + tail + `","user":"u@example.com"}`},
		} {
			t.Run(b.name+"/"+form.name, func(t *testing.T) {
				v, err := Parse(form.in)
				if err == nil {
					t.Fatalf("Parse accepted a token with %s (token %q)", b.name, v.Token.Reveal())
				}
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != "token" {
					t.Fatalf("error %v does not name the token field", err)
				}
				for _, part := range []string{head, tail, head[len(head)-8:], tail[:8]} {
					if strings.Contains(err.Error(), part) {
						t.Fatalf("error %q quotes the token", err)
					}
				}
			})
		}
	}
	// Printable ASCII stays accepted, in both forms.
	for _, in := range []string{sampleToken, `{"token":"` + sampleToken + `"}`, "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}

// A clipped 40-character fragment of a real token that holds no digit,
// only "+", is token-shaped (it once reached a log line whole); a long
// CamelCase secret name joined by "/" is not.
func TestTokenSpansCountPlusAsTheThirdClass(t *testing.T) {
	if got := TokenSpans("clipped: NXyktPFPUJVydyjKAEXEAQxtPtES+TdHLxgBNiYi..."); len(got) != 1 {
		t.Fatalf("a digit-free fragment with '+': spans %v, want one", got)
	}
	if got := TokenSpans("aiven/ManagerTokenForTeamAlphaProduction"); got != nil {
		t.Fatalf("a secret name: spans %v, want none", got)
	}
}
