package localstack_test

// The leak scan (I4): everything the function wrote, and everything it
// sent on the wire outside a request body and the Authorization header, is
// searched for every secret issued during the test. Any run of leakWindow
// consecutive characters of one counts: a token's 12-character prefix may
// be logged, a token cut anywhere else may not.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// leakWindow is the shortest run of a secret's characters that is a leak.
const leakWindow = 16

// haystack is one place the function's output ends up.
type haystack struct {
	source string
	text   string
}

// namedSecret is a secret and a name for it that is safe to print.
type namedSecret struct {
	name  string
	value string
}

// leak says which secret turned up where, never the secret itself.
type leak struct {
	source, secret string
	offset         int
}

func (l leak) String() string {
	return fmt.Sprintf("%d or more characters of %s appear in %s at offset %d", leakWindow, l.secret, l.source, l.offset)
}

// findLeaks reports, once per source and secret, every secret of which
// some leakWindow consecutive characters appear in a haystack. Secrets
// shorter than the window are skipped: there is nothing to cut from them.
func findLeaks(haystacks []haystack, secrets []namedSecret) []leak {
	windows := map[string]int{} // every window of every secret → the secret's index
	for i, s := range secrets {
		for at := 0; at+leakWindow <= len(s.value); at++ {
			windows[s.value[at:at+leakWindow]] = i
		}
	}
	var out []leak
	for _, h := range haystacks {
		reported := map[int]bool{}
		for at := 0; at+leakWindow <= len(h.text); at++ {
			if i, ok := windows[h.text[at:at+leakWindow]]; ok && !reported[i] {
				reported[i] = true
				out = append(out, leak{source: h.source, secret: secrets[i].name, offset: at})
			}
		}
	}
	return out
}

// haystacks is everything the function wrote during the test: its log
// and metric lines (and, for the built binary, anything else on its
// stdout and stderr), the errors it returned, as the rotation log and
// direct invocations recorded them, the results of direct invocations
// (the sweep's and the actions' JSON, successful or not), both emulators'
// request logs, the URLs (as sent and unescaped) and headers of every
// request on the wire, and the SecretId of every Secrets Manager request
// (CloudTrail records it).
func (w *world) haystacks() []haystack {
	out := []haystack{
		{"the rotator's log and metric lines", w.logs.String()},
		{"the emulators' request logs", w.requestLog.String()},
	}
	if w.stack != nil {
		rotations, _ := json.Marshal(w.stack.SecretsManager.Rotations())
		out = append(out, haystack{"the Secrets Manager rotation log", string(rotations)})
	}
	w.mu.Lock()
	out = append(out,
		haystack{"errors returned by direct invocations", strings.Join(w.invokeErrors, "\n")},
		haystack{"results returned by direct invocations", strings.Join(w.invokeResults, "\n")})
	w.mu.Unlock()
	out = append(out, haystack{"SecretIds sent to Secrets Manager", strings.Join(w.wire.sentSecretIDs(), "\n")})
	for _, tap := range []struct {
		name string
		tap  *wireTap
	}{{"Secrets Manager", w.wire}, {"Aiven", w.aivenWire}} {
		urls := tap.tap.urls()
		var unescaped []string
		for _, u := range urls {
			if plain, err := url.PathUnescape(u); err == nil {
				unescaped = append(unescaped, plain)
			}
			if plain, err := url.QueryUnescape(u); err == nil {
				unescaped = append(unescaped, plain)
			}
		}
		out = append(out,
			haystack{"request URLs to " + tap.name, strings.Join(urls, "\n")},
			haystack{"unescaped request URLs to " + tap.name, strings.Join(unescaped, "\n")},
			haystack{"request headers to " + tap.name, strings.Join(tap.tap.headerLines(), "\n")},
		)
	}
	return out
}

// secrets is every secret issued during the test: the tokens of every
// version the secret held, every token Aiven answered with on the wire,
// the seed user's, and every RotationToken, whether seen on the wire or
// sent by the emulator.
func (w *world) secrets() []namedSecret {
	byValue := map[string]string{}
	add := func(value, name string) {
		if value != "" {
			if _, ok := byValue[value]; !ok {
				byValue[value] = name
			}
		}
	}
	tokenName := func(v string) string { return fmt.Sprintf("the token with prefix %.12s", v) }
	w.mu.Lock()
	for _, v := range w.tokens {
		add(v, tokenName(v))
	}
	w.mu.Unlock()
	add(w.user.Token, tokenName(w.user.Token))
	for _, v := range w.aivenWire.issuedTokens() {
		add(v, tokenName(v))
	}
	rotationTokens := w.wire.rotationTokens()
	if w.stack != nil {
		rotationTokens = append(rotationTokens, w.stack.SecretsManager.RotationTokensSent()...)
	}
	for i, v := range rotationTokens {
		add(v, fmt.Sprintf("RotationToken #%d", i+1))
	}
	out := make([]namedSecret, 0, len(byValue))
	for v, name := range byValue {
		out = append(out, namedSecret{name: name, value: v})
	}
	return out
}

// findLeaks runs the scan over the world as it is now. It also checks the
// scan's own coverage: a token the rotator (or anyone, through the API)
// made, whose value the scan does not know, would make the scan blind to
// it, so it is reported as a leak of coverage.
func (w *world) findLeaks() []leak {
	secrets := w.secrets()
	out := findLeaks(w.haystacks(), secrets)
	if w.stack == nil {
		return out
	}
	known := map[string]bool{}
	for _, s := range secrets {
		if len(s.value) >= 12 {
			known[s.value[:12]] = true
		}
	}
	for _, tok := range w.stack.Aiven.Tokens() {
		// Console tokens of users a test made itself are known only to that
		// test; every other token was issued through the API, on the wire.
		if !known[tok.TokenPrefix] && tok.Description != "console token" {
			out = append(out, leak{source: "the scan's coverage (its value was never seen on the wire)", secret: "the token with prefix " + tok.TokenPrefix})
		}
	}
	return out
}

// leakScanAtCleanup is every world's last word: the scan, once any
// rotation still running in the background has ended.
func (w *world) leakScanAtCleanup() {
	if w.stack == nil {
		return
	}
	report := w.leakReport
	if report == nil {
		report = func(s string) { w.t.Error(s) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.stack.SecretsManager.WaitIdle(ctx); err != nil {
		report(fmt.Sprintf("leak scan: a rotation was still running: %v", err))
	}
	w.recordVersions()
	for _, l := range w.findLeaks() {
		report(fmt.Sprintf("I4 (leak scan at cleanup): %s", l))
	}
}

func TestFindLeaksCutsAnywhere(t *testing.T) {
	token := "ABCDEFGHIJKLmnopqrstuvwxyz0123456789+/ABCDEFGHIJKLMNOP=="
	secrets := []namedSecret{{"the token", token}, {"too short", "0123456789abcde"}}
	for _, tc := range []struct {
		name, text string
		leaks      int
	}{
		{"the prefix alone", `{"token_prefix":"ABCDEFGHIJKL"}`, 0},
		{"15 characters", "x" + token[20:35] + "x", 0},
		{"16 characters from the start", token[:16], 1},
		{"16 characters from the middle", "error: " + token[20:36] + "…", 1},
		{"16 characters at the end", "tail " + token[len(token)-16:], 1},
		{"the whole token twice", token + " " + token, 1},
		{"a secret shorter than the window", "0123456789abcde", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := findLeaks([]haystack{{"log", tc.text}}, secrets)
			if len(got) != tc.leaks {
				t.Fatalf("%d leaks (%v), want %d", len(got), got, tc.leaks)
			}
			for _, l := range got {
				if strings.Contains(l.String(), token[12:28]) {
					t.Fatal("the report quotes the secret")
				}
			}
		})
	}
}

// TestLeakScanCatchesPlantedLeaks plants a 16-character slice of a real
// token, issued during the test, in each place the scan must search, and
// proves the scan that every world runs at cleanup reports it: the scan
// cannot pass for want of looking.
func TestLeakScanCatchesPlantedLeaks(t *testing.T) {
	type planted struct {
		name   string
		source string // what a leak report's source must contain
		plant  func(w *world, slice string)
		// escapes: the slice must hold a '+' or '/', which a URL escapes,
		// so that only the unescaped URLs show it.
		escapes bool
	}
	for _, tc := range []planted{
		{"log line", "the rotator's log and metric lines", func(w *world, slice string) {
			fmt.Fprintf(w.logs, `{"level":"ERROR","msg":"createSecret failed","error":"upstream said %s"}`+"\n", slice)
		}, false},
		{"metric line", "the rotator's log and metric lines", func(w *world, slice string) {
			fmt.Fprintf(w.logs, `{"_aws":{"CloudWatchMetrics":[]},"secret":"%s"}`+"\n", slice)
		}, false},
		{"error returned by an invocation", "errors returned by direct invocations", func(w *world, slice string) {
			w.invokeErrors = append(w.invokeErrors, "setSecret: "+slice)
		}, false},
		{"result returned by an invocation", "results returned by direct invocations", func(w *world, slice string) {
			w.invokeResults = append(w.invokeResults, `{"action":"sweep","results":[{"token_prefix":"`+slice+`"}]}`)
		}, false},
		{"SecretId sent to Secrets Manager", "SecretIds sent to Secrets Manager", func(w *world, slice string) {
			_, _ = w.sm.DescribeSecret(w.ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(slice)})
		}, false},
		{"URL to Secrets Manager", "request URLs to Secrets Manager", func(w *world, slice string) {
			get(w, w.stack.SecretsManagerURL+"/?q="+url.QueryEscape(slice), nil)
		}, false},
		{"header to Aiven", "request headers to Aiven", func(w *world, slice string) {
			get(w, w.stack.AivenURL+"/v1/me", http.Header{"X-Debug": {slice}})
		}, false},
		{"query to Aiven, escaped", "unescaped request URLs to Aiven", func(w *world, slice string) {
			get(w, w.stack.AivenURL+"/v1/me?q="+url.QueryEscape(slice), nil)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.leakReport = func(string) {} // this test plants leaks; it runs the scan itself
			w.mustSucceed(w.rotate())
			if leaks := w.findLeaks(); len(leaks) != 0 {
				t.Fatalf("leaks before planting: %v", leaks)
			}
			// A token the rotator made, known to the scan only from the
			// Aiven wire: the pending value is current now, so take the
			// one Aiven answered with.
			issued := w.aivenWire.issuedTokens()
			if len(issued) != 1 {
				t.Fatalf("Aiven issued %d tokens on the wire, want 1", len(issued))
			}
			slice := issued[0][100 : 100+leakWindow]
			if tc.escapes {
				at := strings.IndexAny(issued[0][12:], "+/") + 12
				if at < 12 {
					t.Skip("the token holds no '+' or '/' past its prefix") // about one time in 90 000
				}
				slice = issued[0][min(at, len(issued[0])-leakWindow):][:leakWindow]
			}
			tc.plant(w, slice)
			leaks := w.findLeaks()
			var sources []string
			for _, l := range leaks {
				if !strings.Contains(l.secret, issued[0][:12]) {
					t.Errorf("a leak of another secret: %s", l)
				}
				sources = append(sources, l.source)
			}
			if !slices.ContainsFunc(sources, func(s string) bool { return strings.Contains(s, tc.source) }) {
				t.Fatalf("leaks %v, want one of the token %.12s… in %s", leaks, issued[0], tc.source)
			}
			if tc.escapes && len(leaks) != 1 {
				t.Fatalf("leaks %v, want only the unescaped URL to show an escaped slice", leaks)
			}
		})
	}
	t.Run("a token whose value the scan never saw", func(t *testing.T) {
		w := newWorld(t)
		w.leakReport = func(string) {}
		w.mustSucceed(w.rotate())
		w.aivenWire.mu.Lock()
		w.aivenWire.issued = nil // as if the wire tap had missed the create
		w.aivenWire.mu.Unlock()
		w.mu.Lock()
		clear(w.tokens) // and no version had held it
		w.mu.Unlock()
		leaks := w.findLeaks()
		if len(leaks) == 0 || !strings.Contains(leaks[0].source, "coverage") {
			t.Fatalf("leaks %v, want the scan to report that it is blind to a token", leaks)
		}
	})
}

func get(w *world, target string, header http.Header) {
	w.t.Helper()
	req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, target, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
}

// TestLeakScanRunsAtCleanup proves the wiring: a world whose test never
// asks for the scan still gets it when the test ends, and it reports a
// leak planted after the test's last line.
func TestLeakScanRunsAtCleanup(t *testing.T) {
	var reported []string
	t.Run("inner", func(t *testing.T) {
		w := newWorld(t)
		w.leakReport = func(s string) { reported = append(reported, s) }
		w.mustSucceed(w.rotate())
		_, value := w.current()
		fmt.Fprintf(w.logs, `{"msg":"late line","x":"%s"}`+"\n", value.Token.Reveal()[200:200+leakWindow])
	})
	if len(reported) != 1 || !strings.Contains(reported[0], "the rotator's log") {
		t.Fatalf("the cleanup scan reported %q, want the one planted leak", reported)
	}
}
