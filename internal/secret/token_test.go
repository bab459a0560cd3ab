package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestTokenPrintsNoMoreThanItsPrefix formats a token every way the rotator
// could by accident: each printing must hold the 12-character prefix at
// most, never the 13th character onwards.
func TestTokenPrintsNoMoreThanItsPrefix(t *testing.T) {
	const value = "AVNU_abcdefgSECRETPARTOFTHETOKEN0123456789+/="
	tok := NewToken(value)
	prefix, rest := value[:PrefixLength], value[PrefixLength:]
	holder := struct {
		Name  string
		Token Token
		Ptr   *Token
	}{"x", tok, &tok}
	hidden := struct{ tok Token }{tok} // unexported: fmt cannot call its methods

	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("m", "token", tok, "holder", holder, "err", fmt.Errorf("w: %v", tok))
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("m", "token", tok, "holder", holder, "any", any(tok))
	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	base := errors.New(fmt.Sprint("call with ", tok))

	printed := map[string]string{
		"%v":                   fmt.Sprintf("%v", tok),
		"%+v":                  fmt.Sprintf("%+v", tok),
		"%#v":                  fmt.Sprintf("%#v", tok),
		"%s":                   fmt.Sprintf("%s", tok),
		"%q":                   fmt.Sprintf("%q", tok),
		"%x":                   fmt.Sprintf("%x", tok),
		"%X":                   fmt.Sprintf("%X", tok),
		"%d":                   fmt.Sprintf("%d", tok),
		"%20s":                 fmt.Sprintf("%20s", tok),
		"struct %v":            fmt.Sprintf("%v", holder),
		"struct %+v":           fmt.Sprintf("%+v", holder),
		"struct %#v":           fmt.Sprintf("%#v", holder),
		"unexported field %+v": fmt.Sprintf("%+v", hidden),
		"unexported field %#v": fmt.Sprintf("%#v", hidden),
		"String":               tok.String(),
		"GoString":             tok.GoString(),
		"Errorf %w":            fmt.Errorf("step: %w", base).Error(),
		"Errorf %v":            fmt.Errorf("step: %v", tok).Error(),
		"slog JSON":            jsonLog.String(),
		"slog text":            textLog.String(),
		"json.Marshal":         string(js),
	}
	for how, out := range printed {
		for i := 1; i+8 <= len(rest); i++ { // no 8-character piece of the rest
			if strings.Contains(out, rest[i-1:i+7]) {
				t.Errorf("%s printed part of the token past its prefix: %s", how, out)
				break
			}
		}
	}
	for _, how := range []string{"%v", "%+v", "%s", "String", "struct %v", "slog JSON", "slog text", "json.Marshal", "Errorf %v"} {
		if !strings.Contains(printed[how], prefix) {
			t.Errorf("%s does not show the prefix %q: %s", how, prefix, printed[how])
		}
	}
	if got := fmt.Sprintf("%q", tok); got != `"`+prefix+`"` {
		t.Errorf("%%q = %s", got)
	}
	if tok.Reveal() != value {
		t.Error("Reveal does not give the value")
	}
}

func TestShortTokenPrintsAPlaceholder(t *testing.T) {
	for _, v := range []string{"s3cr3t", "AVNU_abcdefg"} { // shorter than, and as long as, a prefix
		tok := NewToken(v)
		for _, out := range []string{fmt.Sprint(tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%x", tok)} {
			if strings.Contains(out, v) || strings.Contains(out, fmt.Sprintf("%x", v)) {
				t.Errorf("token %q printed as %s", v, out)
			}
		}
	}
	if fmt.Sprint(Token{}) != "" || !NewToken("").IsZero() {
		t.Error("the empty token is not empty")
	}
}

func TestTokenRefusesToBeDecoded(t *testing.T) {
	var v struct{ Token Token }
	if err := json.Unmarshal([]byte(`{"Token":"AVNU_abcdefgSECRET"}`), &v); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("json.Unmarshal into a Token: %v", err)
	}
}

func TestMarshalWritesTheTokenValue(t *testing.T) {
	v, err := Parse(sampleToken)
	if err != nil {
		t.Fatal(err)
	}
	out, err := v.Marshal()
	if err != nil || !strings.Contains(out, `"token":"`+sampleToken+`"`) {
		t.Errorf("Marshal = %s, %v; want the whole token", out, err)
	}
}
