package smemulator

import (
	"net/http"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

// serveControl answers the control API under /_emulator/, to loopback
// callers only.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	if !faults.IsLoopback(r) {
		faults.WriteJSON(w, http.StatusForbidden, map[string]string{"message": "the control API answers loopback callers only"})
		return
	}
	switch r.URL.Path {
	case "/_emulator/faults":
		e.plan.ServeFaults(w, r)
	case "/_emulator/calls":
		e.plan.ServeCalls(w, r)
	case "/_emulator/rotations":
		switch r.Method {
		case http.MethodGet:
			faults.WriteJSON(w, http.StatusOK, map[string]any{"rotations": e.Rotations()})
		case http.MethodDelete:
			e.mu.Lock()
			e.rotations = nil
			e.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			faults.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use GET or DELETE"})
		}
	default:
		faults.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "no such control endpoint"})
	}
}
