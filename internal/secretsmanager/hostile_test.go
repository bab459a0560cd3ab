package secretsmanager

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/boundedhttp"
)

// A 101 Switching Protocols hands back the raw connection, which net/http
// no longer ties to the context; a server trickling bytes after it held
// GetValue far past its deadline. It is refused at once.
func TestSwitchingProtocolsIsRefused(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		_ = buf.Flush()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}))
	defer srv.Close()
	defer close(stop)
	done := make(chan error, 1)
	go func() {
		_, err := newTestClient(&fakeSM{Server: srv}, settings{maxAttempts: 1}).GetValue(context.Background(), secretARN, "", StageCurrent)
		done <- err
	}()
	select {
	case err := <-done:
		var sw *boundedhttp.SwitchingError
		if !errors.As(err, &sw) || !strings.Contains(err.Error(), "101 Switching Protocols") {
			t.Fatalf("err = %.300v, want the 101 refused by name", err)
		}
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("GetValue still reading a 101 body without a deadline")
	}
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func clientWithDoer(d doerFunc, o settings) *Client {
	return newClient(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		HTTPClient:   d,
	}, o)
}

// Whatever the HTTP client, a body that never ends is closed when the
// request's context ends.
func TestBodyReadEndsWithTheContext(t *testing.T) {
	for _, code := range []int{200, 400} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			c := clientWithDoer(func(r *http.Request) (*http.Response, error) {
				body, _ := io.Pipe() // never yields a byte; ends only when closed
				return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}}, Body: body, ContentLength: -1, Request: r}, nil
			}, settings{maxAttempts: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			done := make(chan error, 1)
			go func() { _, err := c.GetValue(ctx, secretARN, "", StageCurrent); done <- err }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("GetValue succeeded")
				}
			case <-time.After(10 * time.Second): // a hang guard
				t.Fatal("GetValue still reading a body past its context's deadline")
			}
		})
	}
}

// manyVersions is a DescribeSecret answer of about size bytes of tiny
// version entries.
func manyVersions(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"ARN":"arn:x","RotationEnabled":true,"VersionIdsToStages":{`)
	for i := 0; b.Len() < size-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%x":["A","B"]`, i)
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

// A DescribeSecret answer just under the old 8 MiB cap (470k tiny version
// entries) grew the heap by ~98 MiB; one under 1 MiB of the same still
// decodes to ~14 times its size. The first is over DescribeSecret's cap,
// the second over the structure bound: each is refused for a few MiB of
// allocation. Not parallel: it counts the process's allocations.
func TestManyElementsAreRefusedBeforeDecoding(t *testing.T) {
	for _, tt := range []struct {
		name string
		size int
		want string
	}{
		{"under 8 MiB", maxListBody, "over 1 MiB"},
		{"under 1 MiB", maxBody, errAnswerTooComplex.Error()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := string(manyVersions(tt.size))
			f := newFakeSM(t, func(string, map[string]any) (int, string) { return 200, body })
			c := newTestClient(f, settings{maxAttempts: 1})
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d, err := c.Describe(context.Background(), "x")
			runtime.ReadMemStats(&after)
			// The server's copy of the body is allocated in the same
			// process: at most 8 MiB of the bound.
			grew := after.TotalAlloc - before.TotalAlloc
			t.Logf("one DescribeSecret of a %d KiB answer allocated %d KiB", len(body)>>10, grew>>10)
			if grew > 32<<20 {
				t.Errorf("one DescribeSecret allocated %d MiB for a %d MiB answer", grew>>20, len(body)>>20)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%d versions, err %.300v; want it to say %q", len(d.Versions), err, tt.want)
			}
		})
	}
}

func TestBodyCapByOperation(t *testing.T) {
	for target, want := range map[string]int64{
		"secretsmanager.DescribeSecret": maxBody, "secretsmanager.GetSecretValue": maxBody,
		"secretsmanager.PutSecretValue": maxBody, "secretsmanager.UpdateSecretVersionStage": maxBody,
		"secretsmanager.RotateSecret": maxBody, "": maxBody, "secretsmanager.SomethingNew": maxBody,
		"secretsmanager.BatchGetSecretValue": maxListBody, "secretsmanager.ListSecrets": maxListBody,
	} {
		r, _ := http.NewRequest(http.MethodPost, "https://secretsmanager.us-east-1.amazonaws.com/", nil)
		r.Header.Set("X-Amz-Target", target)
		if got := bodyCap(r); got != want {
			t.Errorf("bodyCap(%q) = %d, want %d", target, got, want)
		}
	}
}

// testToken is shaped like an Aiven token: 372 characters of base64.
func testToken() string {
	b := make([]byte, 279)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b)
}

func assertNoPiece(t *testing.T, out, tok string) {
	t.Helper()
	for i := 0; i+12 <= len(tok); i++ {
		if strings.Contains(out, tok[i:i+12]) {
			t.Fatalf("%q holds %q of the token", out, tok[i:i+12])
		}
	}
}

// An endpoint that echoes the request in its message: clipping kept the
// tail of the message and, with it, the last 20 characters of the token,
// too short for any scrubber. Now the whole text is scrubbed first, and a
// cut never ends inside a base64 run.
func TestClippedErrorLeavesNoTokenFragment(t *testing.T) {
	tok := testToken()
	msg := "ValidationException: rejected " + strings.Repeat("-", 600) + " value " + tok + strings.Repeat(".", 512-20)
	out := clipped(errors.New(msg)).Error()
	assertNoPiece(t, out, tok)
	if !strings.Contains(out, "clipped") || len(out) > maxErrorText+64 {
		t.Errorf("error text (%d bytes) = %q", len(out), out)
	}
	// A run too short to be judged a token is not split by the cut either.
	short := tok[:30]
	msg = strings.Repeat("-", maxErrorText/2-10) + " " + short + " " + strings.Repeat(".", 600) + " " + short + strings.Repeat(".", maxErrorText/2-10)
	out = clipped(errors.New(msg)).Error()
	for _, piece := range strings.FieldsFunc(out, func(r rune) bool { return r == ' ' || r == '-' || r == '.' }) {
		if len(piece) > 0 && strings.Contains(short, piece) && piece != short {
			t.Errorf("the clip left %q, a piece of a base64 run", piece)
		}
	}
}

func TestScrubSeesPercentDecodedText(t *testing.T) {
	tok := testToken()
	// Runs of 19, under any threshold once "/" and "+" are escaped, and
	// padding that only the decoded text shows to belong to the run.
	split := tok[0:19] + "/" + tok[19:38] + "+" + tok[38:57] + "/" + tok[57:76] + "=="
	for _, esc := range []struct{ name, from, to string }{{"%2F", "/", "%2F"}, {"%2B", "+", "%2B"}, {"%3D", "=", "%3D"}, {"all", "", ""}} {
		t.Run(esc.name, func(t *testing.T) {
			quoted := strings.ReplaceAll(split, esc.from, esc.to)
			if esc.from == "" {
				quoted = strings.NewReplacer("/", "%2F", "+", "%2B", "=", "%3D").Replace(split)
			}
			if out := scrub("https://host/?x=" + quoted + " end"); out != "https://host/?x=[REDACTED] end" {
				t.Errorf("scrub = %q", out)
			}
		})
	}
	if s := "100%25 of calls, %zz, %+1"; scrub(s) != s {
		t.Errorf("scrub changed %q", s)
	}
}

// *url.Error quotes the whole URL, query included; the error names the
// method and host and keeps the cause for errors.Is and errors.As.
func TestTransportErrorNamesNoURL(t *testing.T) {
	tok := testToken()
	c := cappedHTTPClient(doerFunc(func(r *http.Request) (*http.Response, error) {
		return nil, &url.Error{Op: "Post", URL: r.URL.String(), Err: context.DeadlineExceeded}
	}))
	r, _ := http.NewRequest(http.MethodPost, "https://sm.example/path/"+url.PathEscape(tok)+"?q="+url.QueryEscape(tok), nil)
	_, err := c.Do(r)
	if err == nil || err.Error() != "POST request to sm.example: context deadline exceeded" {
		t.Fatalf("err = %v", err)
	}
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v lost its cause", err)
	}
}
