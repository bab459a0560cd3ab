package runtimeapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/runtimeapi"
)

func TestReportInitError(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		message string
		wantErr string
		wantMsg string
	}{
		{name: "accepted", status: http.StatusAccepted, message: "AIVEN_WEB_URL: not https", wantMsg: "AIVEN_WEB_URL: not https"},
		{name: "refused", status: http.StatusForbidden, message: "x", wantErr: "403"},
		{name: "long message clipped", status: http.StatusAccepted, message: strings.Repeat("a", 10000), wantMsg: strings.Repeat("a", 4096) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				path, header string
				body         map[string]string
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.path, got.header = r.Method+" "+r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type")
				b, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(b, &got.body)
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			err := runtimeapi.ReportInitError(context.Background(), strings.TrimPrefix(srv.URL, "http://"), runtimeapi.ErrorTypeConfig, errors.New(tt.message))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.path != "POST /2018-06-01/runtime/init/error" {
				t.Errorf("request = %s", got.path)
			}
			if got.header != "Runtime.ConfigError" || got.body["errorType"] != "Runtime.ConfigError" {
				t.Errorf("error type header %q, body %q", got.header, got.body["errorType"])
			}
			if got.body["errorMessage"] != tt.wantMsg {
				t.Errorf("errorMessage = %.60q..., want %.60q...", got.body["errorMessage"], tt.wantMsg)
			}
		})
	}
}

func TestReportInitErrorWithoutARuntimeAPI(t *testing.T) {
	for _, api := range []string{"", "127.0.0.1:1"} {
		if err := runtimeapi.ReportInitError(context.Background(), api, runtimeapi.ErrorTypeConfig, errors.New("x")); err == nil {
			t.Errorf("runtime API %q: no error", api)
		}
	}
}
