package smemulator

import (
	"net/http"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

// serveControl answers the control API under /_emulator/: faults, calls,
// and the rotation log.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	e.plan.ControlHandler(map[string]http.HandlerFunc{
		"/_emulator/rotations": e.serveRotations,
	})(w, r)
}

func (e *Emulator) serveRotations(w http.ResponseWriter, r *http.Request) {
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
}
