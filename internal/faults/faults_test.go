package faults

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestObserveAfterAndTimes(t *testing.T) {
	var p Plan
	if err := p.Add(Rule{Operation: "PutSecretValue", After: 1, Times: 2, Status: 500}); err != nil {
		t.Fatal(err)
	}
	var got []bool
	for range 5 {
		_, hit := p.Observe("PutSecretValue")
		got = append(got, hit)
	}
	want := []bool{false, true, true, false, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("call %d: fault=%v, want %v (all: %v)", i+1, got[i], want[i], got)
		}
	}
	if _, hit := p.Observe("GetSecretValue"); hit {
		t.Fatal("a rule for PutSecretValue failed GetSecretValue")
	}
	if calls := p.Calls(); calls["PutSecretValue"] != 5 || calls["GetSecretValue"] != 1 {
		t.Fatalf("calls = %v", calls)
	}
	if len(p.Pending()) != 0 {
		t.Fatalf("pending = %v, want none", p.Pending())
	}
}

func TestTimesDefaultsToOneAndFieldsCarryOver(t *testing.T) {
	var p Plan
	if err := p.Add(Rule{Operation: "UserInfo", Status: 429, RetryAfterSeconds: 3, DelayMS: 5}); err != nil {
		t.Fatal(err)
	}
	f, hit := p.Observe("UserInfo")
	if !hit || f.Status != 429 || f.RetryAfter != 3 || f.Delay != 5*time.Millisecond {
		t.Fatalf("fault = %+v, hit %v", f, hit)
	}
	if _, hit := p.Observe("UserInfo"); hit {
		t.Fatal("times 0 should mean one failure")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule Rule
		want string
	}{
		{"no operation", Rule{Status: 500}, "operation"},
		{"no effect", Rule{Operation: "X"}, "status, delay_ms or drop"},
		{"status not an error", Rule{Operation: "X", Status: 200}, "status 200"},
		{"negative after", Rule{Operation: "X", Status: 500, After: -1}, "after"},
		{"negative delay", Rule{Operation: "X", DelayMS: -1}, "delay_ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Plan
			err := p.Add(tc.rule)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %q", err, tc.want)
			}
			if len(p.Pending()) != 0 {
				t.Fatal("a rejected rule was added")
			}
		})
	}
}

func TestControlEndpoints(t *testing.T) {
	var p Plan
	post := httptest.NewRequest(http.MethodPost, "/_emulator/faults",
		strings.NewReader(`[{"operation":"A","status":500},{"operation":"B","drop":true}]`))
	rec := httptest.NewRecorder()
	p.ServeFaults(rec, post)
	if rec.Code != http.StatusOK || len(p.Pending()) != 2 {
		t.Fatalf("POST: %d %s, pending %d", rec.Code, rec.Body, len(p.Pending()))
	}

	bad := httptest.NewRequest(http.MethodPost, "/_emulator/faults", strings.NewReader(`{"operation":"A","stauts":500}`))
	rec = httptest.NewRecorder()
	p.ServeFaults(rec, bad)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "stauts") {
		t.Fatalf("unknown field: %d %s", rec.Code, rec.Body)
	}

	p.Observe("A")
	rec = httptest.NewRecorder()
	p.ServeCalls(rec, httptest.NewRequest(http.MethodGet, "/_emulator/calls", nil))
	if strings.TrimSpace(rec.Body.String()) != `{"A":1}` {
		t.Fatalf("calls body = %s", rec.Body)
	}

	p.ServeFaults(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete, "/_emulator/faults", nil))
	p.ServeCalls(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete, "/_emulator/calls", nil))
	if len(p.Pending()) != 0 || len(p.Calls()) != 0 {
		t.Fatalf("after DELETE: pending %v calls %v", p.Pending(), p.Calls())
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.8.9.10:1": true, "[::1]:80": true,
		"10.0.0.1:5000": false, "[2001:db8::1]:80": false, "garbage": false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		if got := IsLoopback(r); got != want {
			t.Errorf("IsLoopback(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestDropConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !DropConnection(w) {
			t.Error("could not hijack")
		}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got a response (%d), want a dropped connection", resp.StatusCode)
	}
}

func TestLatencyDelaysEveryCall(t *testing.T) {
	var p Plan
	if f, hit := p.Observe("A"); hit || f.Delay != 0 {
		t.Fatalf("no latency: fault %+v, hit %v", f, hit)
	}
	if err := p.SetLatency(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"A", "UserInfo", "GetSecretValue"} {
		f, hit := p.Observe(op)
		if !hit || f.Delay != 20*time.Millisecond || f.Status != 0 || f.Drop {
			t.Fatalf("%s: fault %+v, hit %v; want a 20ms delay only", op, f, hit)
		}
	}
	// A rule's own delay and failure come on top of the latency.
	if err := p.Add(Rule{Operation: "A", Status: 503, DelayMS: 5}); err != nil {
		t.Fatal(err)
	}
	if f, _ := p.Observe("A"); f.Delay != 25*time.Millisecond || f.Status != 503 {
		t.Fatalf("rule with latency: fault %+v", f)
	}
	for _, d := range []time.Duration{-time.Millisecond, MaxLatency + time.Millisecond} {
		if err := p.SetLatency(d); err == nil || !strings.Contains(err.Error(), "latency") {
			t.Fatalf("SetLatency(%v) = %v, want an error naming the latency", d, err)
		}
	}
	if p.Latency() != 20*time.Millisecond {
		t.Fatalf("a refused SetLatency changed it to %v", p.Latency())
	}
	_ = p.SetLatency(0)
	if _, hit := p.Observe("B"); hit {
		t.Fatal("latency 0 still delays")
	}
}

func TestLatencyControlEndpoint(t *testing.T) {
	var p Plan
	h := p.ControlHandler(nil)
	call := func(method, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/_emulator/latency", strings.NewReader(body))
		r.RemoteAddr = "127.0.0.1:1234"
		rec := httptest.NewRecorder()
		h(rec, r)
		return rec
	}
	if rec := call(http.MethodPost, `{"latency_ms":20}`); rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"latency_ms":20}` {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	if p.Latency() != 20*time.Millisecond {
		t.Fatalf("latency = %v", p.Latency())
	}
	for body, want := range map[string]string{
		`{"latency_ms":-1}`:      "latency_ms must be 0 to",
		`{"latency_ms":"20ms"}`:  "latency",
		`{"latencyms":20}`:       "latencyms",
		`{}`:                     "latency_ms is required",
		`{"latency_ms":6000000}`: "latency_ms must be 0 to",
	} {
		if rec := call(http.MethodPost, body); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("POST %s: %d %s, want 400 naming %q", body, rec.Code, rec.Body, want)
		}
	}
	if p.Latency() != 20*time.Millisecond {
		t.Fatalf("a refused POST changed the latency to %v", p.Latency())
	}
	if rec := call(http.MethodGet, ""); strings.TrimSpace(rec.Body.String()) != `{"latency_ms":20}` {
		t.Fatalf("GET: %s", rec.Body)
	}
	if rec := call(http.MethodDelete, ""); rec.Code != http.StatusNoContent || p.Latency() != 0 {
		t.Fatalf("DELETE: %d, latency %v", rec.Code, p.Latency())
	}
}
