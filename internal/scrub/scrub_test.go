package scrub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/tokentest"
)

const scrubbed = secret.Redacted

type stringer string

func (s stringer) String() string { return string(s) }

type valuer string

func (v valuer) LogValue() slog.Value { return slog.StringValue(string(v)) }

type withSecret struct {
	Name  string
	token string
}

func TestScrubHandlerCutsTokensWhereverTheyAre(t *testing.T) {
	for _, avnu := range []bool{false, true} {
		tok := tokentest.AivenShaped(t, avnu)
		cases := []struct {
			name string
			log  func(l *slog.Logger)
		}{
			{"message", func(l *slog.Logger) { l.Info("proxy said: " + tok + " (502)") }},
			{"string attr", func(l *slog.Logger) { l.Info("step failed", "error", "body: {\"full_token\":\""+tok+"\"}") }},
			{"nested group", func(l *slog.Logger) {
				l.Info("x", slog.Group("outer", slog.Group("inner", slog.String("body", tok), slog.Int("n", 1))))
			}},
			{"error attr", func(l *slog.Logger) {
				l.Error("x", "error", fmt.Errorf("createSecret: list tokens: %w", errors.New("502 Bad Gateway: "+tok)))
			}},
			{"error in a group", func(l *slog.Logger) { l.Error("x", slog.Group("g", "err", errors.New(tok))) }},
			{"Stringer", func(l *slog.Logger) { l.Info("x", "v", stringer("token="+tok)) }},
			{"LogValuer", func(l *slog.Logger) { l.Info("x", "v", valuer(tok)) }},
			{"struct with an unexported field", func(l *slog.Logger) { l.Info("x", "v", withSecret{Name: "n", token: tok}) }},
			{"bytes", func(l *slog.Logger) { l.Info("x", "v", []byte(tok)) }},
			{"With", func(l *slog.Logger) { l.With("body", tok).Info("x") }},
			{"WithGroup then attr", func(l *slog.Logger) { l.WithGroup("g").Info("x", "body", tok) }},
			{"attr key", func(l *slog.Logger) { l.Info("x", tok, 1) }},
			{"fragment", func(l *slog.Logger) { l.Info("clipped: " + tok[100:140] + "...") }},
		}
		for _, c := range cases {
			for _, h := range []string{"json", "text"} {
				t.Run(fmt.Sprintf("avnu=%v/%s/%s", avnu, c.name, h), func(t *testing.T) {
					var buf bytes.Buffer
					var next slog.Handler = slog.NewJSONHandler(&buf, nil)
					if h == "text" {
						next = slog.NewTextHandler(&buf, nil)
					}
					c.log(slog.New(NewHandler(next)))
					out := buf.String()
					if run, ok := tokentest.Leaks(out, tok); ok {
						t.Fatalf("the line holds %q of the token:\n%s", run, out)
					}
					if !strings.Contains(out, scrubbed) {
						t.Fatalf("nothing was marked as cut:\n%s", out)
					}
				})
			}
		}
	}
}

// What an operator needs to read survives the scrubber untouched.
func TestScrubKeepsPrefixesARNsAndVersionIDs(t *testing.T) {
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/aiven/ServiceToken2024-AbCdEf"
	version := "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	marker, err := secret.NewMarker(arn, version)
	if err != nil {
		t.Fatal(err)
	}
	keep := []string{
		"AVNU_aB3+/9z", // a new-style prefix, 12 characters
		"Qm9vdHN0cmFw", // an old-style prefix
		"aB+/cD9eF0gH", // one with + and /
		arn,
		version,
		secret.Describe("CI deploys", marker),
		"ResourceNotFoundException: Secrets Manager can't find the specified secret.",
		"InternalServiceErrorInvalidRequestExceptionThrottling", // letters only, 53 characters
		strings.Repeat("0123456789abcdef", 4),                   // SHA-256 in hex
		"user.name+tag@example.com",
		"https://api.aiven.io/v1/access_token/AVNU_aB3%2B%2F9z",
		strings.Repeat("aB3", 10) + "x", // 31 characters of mixed base64: under the threshold
	}
	for _, s := range keep {
		var buf bytes.Buffer
		slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).Info(s, "secret", s, slog.Group("g", "v", s))
		if strings.Contains(buf.String(), scrubbed) {
			t.Errorf("%q was cut:\n%s", s, buf.String())
		}
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q", s, got)
		}
	}
}

func TestScrubThresholds(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{strings.Repeat("aB3", 10) + "xy", scrubbed},                        // 32 mixed: cut
		{"x " + strings.Repeat("aB3", 11) + "== y", "x " + scrubbed + " y"}, // padding goes too
		{strings.Repeat("ab", 35) + "c", strings.Repeat("ab", 35) + "c"},    // 71 letters: kept
		{strings.Repeat("ab", 36), scrubbed},                                // 72 of anything: cut
		{"AVNU_abcdefg", "AVNU_abcdefg"},                                    // a prefix
		{"Bearer AVNU_abcdefgh.", "Bearer " + scrubbed + "."},               // more than a prefix
		{"AVNU_" + strings.Repeat("x", 40), scrubbed},
		{"a:" + strings.Repeat("aB3", 11) + ":" + strings.Repeat("aB3", 11), "a:" + scrubbed + ":" + scrubbed},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScrubHandlerKeepsContextAndLevels(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Fatal("levels not passed through")
	}
	if NewHandler(h) != h {
		t.Fatal("a wrapped handler was wrapped again")
	}
}

// *url.Error quotes a whole URL, where a token's "/" is %2F (and "+" %2B,
// "=" %3D): runs of 16 to 23 characters got past both thresholds and ~70
// characters of a live token reached an error and a log line. The
// scrubber judges the percent-decoded text too and cuts the original span.
func TestScrubCutsPercentEncodedTokens(t *testing.T) {
	tok := tokentest.AivenShaped(t, false)
	join := func(sep string) string {
		var pieces []string
		for i := 0; i+20 <= len(tok); i += 20 {
			pieces = append(pieces, tok[i:i+20])
		}
		return strings.Join(pieces, sep)
	}
	tests := []struct{ name, quoted, plain string }{
		{"%2F", join("%2F"), join("/")},
		{"%2B", join("%2B"), join("+")},
		{"%3D", join("%2F") + "%3D%3D", join("/") + "=="},
		{"lower-case escapes", join("%2f") + "%3d", join("/") + "="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `Delete "https://api.aiven.io/v1/access_token/` + tt.quoted + `": context deadline exceeded`
			got := String(in)
			if want := `Delete "https://api.aiven.io/v1/access_` + scrubbed + `": context deadline exceeded`; got != want {
				t.Fatalf("String = %q, want %q", got, want)
			}
			if run, ok := tokentest.Leaks(got, tt.plain); ok {
				t.Fatalf("%q survives", run)
			}
		})
	}
}
