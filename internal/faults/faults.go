// Package faults holds the fault plans and call counts that both emulators
// share: tests and users ask an emulator to fail, delay or drop chosen calls
// through its control API, and read back how often each operation was
// called.
package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Rule is one entry of a fault plan, as posted to /_emulator/faults.
type Rule struct {
	// Operation is the AWS operation name or the Aiven operationId.
	Operation string `json:"operation"`
	// After is how many matching calls pass untouched first.
	After int `json:"after"`
	// Times is how many matching calls then fail; 0 means 1.
	Times int `json:"times"`
	// Status is the HTTP status of the failure; 0 with no Drop means the
	// call is only delayed and then answered normally.
	Status int `json:"status"`
	// DelayMS holds the call for this long before anything else happens.
	DelayMS int `json:"delay_ms"`
	// RetryAfterSeconds, when set, is sent as a Retry-After header.
	RetryAfterSeconds int `json:"retry_after_seconds"`
	// Drop closes the connection without an answer.
	Drop bool `json:"drop"`
}

// Fault is what a call must suffer.
type Fault struct {
	Status     int
	Delay      time.Duration
	RetryAfter int
	Drop       bool
}

// Validate names the first field of r that cannot work.
func (r Rule) Validate() error {
	switch {
	case r.Operation == "":
		return errors.New("operation is required")
	case r.After < 0:
		return errors.New("after must not be negative")
	case r.Times < 0:
		return errors.New("times must not be negative")
	case r.Status != 0 && (r.Status < 400 || r.Status > 599):
		return fmt.Errorf("status %d is not an HTTP error status (400-599)", r.Status)
	case r.DelayMS < 0:
		return errors.New("delay_ms must not be negative")
	case r.RetryAfterSeconds < 0:
		return errors.New("retry_after_seconds must not be negative")
	case r.Status == 0 && r.DelayMS == 0 && !r.Drop:
		return errors.New("a fault needs status, delay_ms or drop")
	}
	return nil
}

type ruleState struct {
	Rule
	seen int // matching calls observed so far
}

// Plan is a fault plan, a latency and a call counter. Its zero value is
// ready to use (no faults, no latency) and it is safe for concurrent use.
type Plan struct {
	mu      sync.Mutex
	rules   []*ruleState
	calls   map[string]int
	latency time.Duration
	arrived []arrival
}

type arrival struct {
	operation string
	n         int
	ch        chan struct{}
}

// MaxLatency bounds SetLatency: a minute is far beyond any real round trip
// and still short enough that a mistaken value does not hang a client.
const MaxLatency = time.Minute

// SetLatency makes every call observed from now on wait d before anything
// else happens to it, as a round trip to the real service would; a rule's
// delay_ms comes on top. 0 removes it; setting it again replaces it. It
// fails, changing nothing, for a negative d or one above MaxLatency.
func (p *Plan) SetLatency(d time.Duration) error {
	if d < 0 || d > MaxLatency {
		return fmt.Errorf("latency %v is outside 0 to %v", d, MaxLatency)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
	return nil
}

// Latency is the delay every call suffers (0: none).
func (p *Plan) Latency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency
}

// Add appends a rule. Adding the same rule twice makes two rules.
func (p *Plan) Add(r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Times == 0 {
		r.Times = 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &ruleState{Rule: r})
	return nil
}

// Clear removes every rule. Clearing twice is harmless.
func (p *Plan) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Observe counts one call of operation and says which fault, if any, it
// must suffer. The first rule that claims the call wins; every rule for the
// operation still counts the call towards its After. With a latency set,
// every call has a fault: at least the latency as its Delay, so an emulator
// that waits out every fault it is handed honours the latency unchanged.
func (p *Plan) Observe(operation string) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls == nil {
		p.calls = make(map[string]int)
	}
	p.calls[operation]++
	p.signalArrivals(operation)
	var (
		fault Fault
		found bool
	)
	for _, r := range p.rules {
		if r.Operation != operation {
			continue
		}
		r.seen++
		if found || r.seen <= r.After || r.seen > r.After+r.Times {
			continue
		}
		fault = Fault{
			Status:     r.Status,
			Delay:      time.Duration(r.DelayMS) * time.Millisecond,
			RetryAfter: r.RetryAfterSeconds,
			Drop:       r.Drop,
		}
		found = true
	}
	// A spent rule (all its Times used) can fault nothing more: it leaves
	// the plan, so the listing (GET /_emulator/faults) shows only rules
	// that still have something to do.
	p.rules = slices.DeleteFunc(p.rules, func(r *ruleState) bool { return r.seen >= r.After+r.Times })
	if p.latency > 0 {
		fault.Delay += p.latency
		found = true
	}
	return fault, found
}

// Arrived returns a channel that is closed once the call count of
// operation (as Calls reports it) reaches n: at that instant the nth call
// has been counted and its fault, if any, is about to apply, so a test can
// act while a delayed call is held. A count already reached gives a closed
// channel. Each call makes its own channel.
func (p *Plan) Arrived(operation string, n int) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{})
	if p.calls[operation] >= n {
		close(ch)
		return ch
	}
	p.arrived = append(p.arrived, arrival{operation, n, ch})
	return ch
}

// signalArrivals closes the channels whose count operation has reached.
// Callers hold p.mu.
func (p *Plan) signalArrivals(operation string) {
	kept := p.arrived[:0]
	for _, a := range p.arrived {
		if a.operation == operation && p.calls[operation] >= a.n {
			close(a.ch)
			continue
		}
		kept = append(kept, a)
	}
	p.arrived = kept
}

// Calls returns a copy of the call counts.
func (p *Plan) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.calls))
	for op, n := range p.calls {
		out[op] = n
	}
	return out
}

// ResetCalls sets every count back to zero.
func (p *Plan) ResetCalls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
}

// Pending reports the rules that still have failures to hand out, for a
// test that wants to know its faults were all consumed.
func (p *Plan) Pending() []Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Rule
	for _, r := range p.rules {
		if r.seen < r.After+r.Times {
			out = append(out, r.Rule)
		}
	}
	return out
}

// Wait holds the call for the fault's delay, or until the request ends.
func (f Fault) Wait(r *http.Request) {
	if f.Delay <= 0 {
		return
	}
	t := time.NewTimer(f.Delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// DropConnection closes the client's connection without writing a
// response. It reports false if the server cannot hijack the connection.
func DropConnection(w http.ResponseWriter) bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // a reset, as a failing load balancer sends
	}
	_ = conn.Close()
	return true
}

// IsLoopback reports whether the request came from 127.0.0.0/8 or ::1.
// The control API answers only such requests.
func IsLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ControlHandler serves an emulator's control API under /_emulator/ to
// loopback callers only (the emulators hand out tokens and secrets to
// whoever asks): the fault plan and call counts every emulator has, plus
// the emulator's own endpoints in own, keyed by path.
func (p *Plan) ControlHandler(own map[string]http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !IsLoopback(r) {
			WriteJSON(w, http.StatusForbidden, map[string]string{"message": "the control API answers loopback callers only"})
			return
		}
		switch r.URL.Path {
		case "/_emulator/faults":
			p.ServeFaults(w, r)
		case "/_emulator/calls":
			p.ServeCalls(w, r)
		case "/_emulator/latency":
			p.ServeLatency(w, r)
		default:
			if h, ok := own[r.URL.Path]; ok {
				h(w, r)
				return
			}
			WriteJSON(w, http.StatusNotFound, map[string]string{"message": "no such control endpoint"})
		}
	}
}

// ServeFaults serves /_emulator/faults: POST adds a rule (or a JSON array
// of rules), DELETE clears them, GET lists them.
func (p *Plan) ServeFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		body := strings.TrimSpace(readAll(r))
		var rules []Rule
		var err error
		if strings.HasPrefix(body, "[") {
			err = decodeStrict(body, &rules)
		} else {
			var one Rule
			err = decodeStrict(body, &one)
			rules = []Rule{one}
		}
		if err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "fault: " + err.Error()})
			return
		}
		for i, rule := range rules {
			if err := rule.Validate(); err != nil {
				WriteJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("fault %d: %v", i, err)})
				return
			}
		}
		for _, rule := range rules {
			_ = p.Add(rule) // validated above
		}
		WriteJSON(w, http.StatusOK, map[string]any{"faults": p.rulesCopy()})
	case http.MethodDelete:
		p.Clear()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		WriteJSON(w, http.StatusOK, map[string]any{"faults": p.rulesCopy()})
	default:
		WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET, POST or DELETE"})
	}
}

// ServeCalls serves /_emulator/calls: GET returns the counts, DELETE
// resets them.
func (p *Plan) ServeCalls(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		WriteJSON(w, http.StatusOK, p.Calls())
	case http.MethodDelete:
		p.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	default:
		WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET or DELETE"})
	}
}

// ServeLatency serves /_emulator/latency: GET returns {"latency_ms": N},
// POST {"latency_ms": N} sets it (0 removes it), DELETE removes it.
func (p *Plan) ServeLatency(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var body struct {
			LatencyMS *int64 `json:"latency_ms"`
		}
		if err := decodeStrict(readAll(r), &body); err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "latency: " + err.Error()})
			return
		}
		if body.LatencyMS == nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "latency: latency_ms is required"})
			return
		}
		if *body.LatencyMS < 0 || *body.LatencyMS > MaxLatency.Milliseconds() {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("latency: latency_ms must be 0 to %d", MaxLatency.Milliseconds())})
			return
		}
		_ = p.SetLatency(time.Duration(*body.LatencyMS) * time.Millisecond) // checked above
	case http.MethodDelete:
		_ = p.SetLatency(0)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET, POST or DELETE"})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]int64{"latency_ms": p.Latency().Milliseconds()})
}

func (p *Plan) rulesCopy() []Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Rule, 0, len(p.rules))
	for _, r := range p.rules {
		out = append(out, r.Rule)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Operation < out[j].Operation })
	return out
}

// WriteJSON writes v as the JSON body of a response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return string(b)
}

func decodeStrict(body string, v any) error {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
