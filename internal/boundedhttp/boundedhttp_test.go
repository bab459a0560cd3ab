package boundedhttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// The error from sending names the method and host, never the path or
// query, and keeps its cause for errors.Is and errors.As.
func TestSendNamesMethodAndHostOnly(t *testing.T) {
	r, _ := http.NewRequest(http.MethodDelete, "https://api.example/v1/access_token/AVNU_secret?q=x", nil)
	_, err := Send(doerFunc(func(r *http.Request) (*http.Response, error) {
		return nil, &url.Error{Op: "Delete", URL: r.URL.String(), Err: context.DeadlineExceeded}
	}), r)
	if err == nil || err.Error() != "DELETE request to api.example: context deadline exceeded" {
		t.Fatalf("err = %v", err)
	}
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v lost its cause", err)
	}
}

// ReadBody reads one byte past the cap at most; FailingBody serves what
// was read, then the error.
func TestReadBodyAndFailingBody(t *testing.T) {
	b, err := ReadBody(context.Background(), io.NopCloser(strings.NewReader("0123456789")), 4)
	if err != nil || string(b) != "01234" {
		t.Fatalf("ReadBody = %q, %v; want 5 bytes", b, err)
	}
	errOver := errors.New("over")
	got, err := io.ReadAll(&FailingBody{Data: b[:4], Err: errOver})
	if string(got) != "0123" || !errors.Is(err, errOver) {
		t.Errorf("FailingBody read %q, %v", got, err)
	}
}
