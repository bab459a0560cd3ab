package aivenemulator

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

// serveControl answers the control API under /_emulator/: faults, calls,
// users, application users, tokens, the clock and the rate limit.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	e.plan.ControlHandler(map[string]http.HandlerFunc{
		"/_emulator/users":             e.serveUsers,
		"/_emulator/application-users": e.serveApplicationUsers,
		"/_emulator/tokens":            e.serveTokens,
		"/_emulator/clock":             e.serveClock,
		"/_emulator/rate-limit":        e.serveRateLimit,
		"/_emulator/organizations":     e.serveOrganizations,
	})(w, r)
}

// serveOrganizations: GET lists the organizations with their
// authentication configuration; POST {"organization_id",
// "organization_name"?, "authentication": {"personal_tokens_enabled":
// false, ...}} makes or changes one (only the settings named change) and
// answers it.
func (e *Emulator) serveOrganizations(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		faults.WriteJSON(w, http.StatusOK, map[string]any{"organizations": e.Organizations()})
		return
	}
	var in struct {
		OrganizationID   string          `json:"organization_id"`
		OrganizationName string          `json:"organization_name"`
		Authentication   AuthConfigPatch `json:"authentication"`
	}
	if !decodeControl(w, r, &in) {
		return
	}
	o, err := e.SetOrganization(in.OrganizationID, in.OrganizationName, in.Authentication)
	if err != nil {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	faults.WriteJSON(w, http.StatusOK, o)
}

func (e *Emulator) serveUsers(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email          string   `json:"email"`
		OrganizationID string   `json:"organization_id"`
		Permissions    []string `json:"permissions"`
		Managed        bool     `json:"managed"`
		AuthMethod     string   `json:"auth_method"`
	}
	if !decodeControl(w, r, &in) {
		return
	}
	u, err := e.CreateUserWith(UserSpec{Email: in.Email, OrganizationID: in.OrganizationID, Permissions: in.Permissions, Managed: in.Managed, AuthMethod: in.AuthMethod})
	if err != nil {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	faults.WriteJSON(w, http.StatusOK, u)
}

func (e *Emulator) serveApplicationUsers(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OrganizationID string   `json:"organization_id"`
		Name           string   `json:"name"`
		Permissions    []string `json:"permissions"`
	}
	if !decodeControl(w, r, &in) {
		return
	}
	u, err := e.CreateApplicationUser(in.OrganizationID, in.Name, in.Permissions)
	if err != nil {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	faults.WriteJSON(w, http.StatusOK, u)
}

func (e *Emulator) serveTokens(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		faults.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET"})
		return
	}
	faults.WriteJSON(w, http.StatusOK, map[string]any{"tokens": e.Tokens()})
}

func (e *Emulator) serveClock(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		faults.WriteJSON(w, http.StatusOK, map[string]any{"now": e.Now().Format(time.RFC3339)})
		return
	}
	var in struct {
		AdvanceSeconds int64 `json:"advance_seconds"`
	}
	if !decodeControl(w, r, &in) {
		return
	}
	if in.AdvanceSeconds < 0 {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "advance_seconds must not be negative: the clock only moves forward"})
		return
	}
	now := e.Advance(time.Duration(in.AdvanceSeconds) * time.Second)
	faults.WriteJSON(w, http.StatusOK, map[string]any{"now": now.Format(time.RFC3339)})
}

// serveRateLimit serves /_emulator/rate-limit: GET shows the setting and
// the 429s answered per token prefix, PUT (or POST) {"requests": N,
// "window_ms": W} sets it afresh, DELETE turns it off.
func (e *Emulator) serveRateLimit(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut, http.MethodPost:
		var in struct {
			Requests *int   `json:"requests"`
			WindowMS *int64 `json:"window_ms"`
		}
		if !decodeBody(w, r, &in) {
			return
		}
		if in.Requests == nil || in.WindowMS == nil {
			faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "rate limit: requests and window_ms are required"})
			return
		}
		l := RateLimit{Requests: *in.Requests, Window: time.Duration(*in.WindowMS) * time.Millisecond}
		if ms := *in.WindowMS; ms < 1 || ms > maxRateLimitWindow.Milliseconds() {
			l.Window = 0 // refused below, without overflowing
		}
		if err := e.SetRateLimit(l); err != nil {
			faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "rate limit: " + err.Error()})
			return
		}
	case http.MethodDelete:
		e.ClearRateLimit()
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		faults.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET, PUT or DELETE"})
		return
	}
	faults.WriteJSON(w, http.StatusOK, e.RateLimitStatus())
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Method != http.MethodPost {
		faults.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use POST"})
		return false
	}
	return decodeBody(w, r, v)
}

// decodeBody reads one JSON object into v, refusing unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "request body: " + err.Error()})
		return false
	}
	return true
}
