package smemulator

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

// serveControl answers the control API under /_emulator/: faults, calls,
// the rotation log, the clock, the ageing of versions and replicas.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	e.plan.ControlHandler(map[string]http.HandlerFunc{
		"/_emulator/rotations":    e.serveRotations,
		"/_emulator/clock":        e.serveClock,
		"/_emulator/versions/age": e.serveVersionAge,
		"/_emulator/replicas":     e.serveReplicas,
		"/_emulator/replicas/lag": e.serveReplicationLag,
	})(w, r)
}

// serveReplicas: GET lists the replicas (of one secret with
// ?secret_id=NAME-OR-ARN) with the replication lag; POST {"secret_id",
// "region", "action": "hold" | "fail" | "release", "status_message"}
// holds a replica behind, marks it Failed, or releases it (it catches up
// at once), and answers it.
func (e *Emulator) serveReplicas(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		list, err := e.Replicas(r.URL.Query().Get("secret_id"))
		if err != nil {
			faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		faults.WriteJSON(w, http.StatusOK, map[string]any{"lag_ms": e.ReplicationLag().Milliseconds(), "replicas": list})
		return
	}
	var in struct {
		SecretID      string `json:"secret_id"`
		Region        string `json:"region"`
		Action        string `json:"action"`
		StatusMessage string `json:"status_message"`
	}
	if !decodeControl(w, r, &in) {
		return
	}
	if in.SecretID == "" || in.Region == "" {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "give secret_id (the primary's name or ARN, or the replica's ARN) and region"})
		return
	}
	var (
		st  ReplicaState
		err error
	)
	switch in.Action {
	case "hold":
		st, err = e.HoldReplica(in.SecretID, in.Region)
	case "fail":
		st, err = e.FailReplica(in.SecretID, in.Region, in.StatusMessage)
	case "release":
		st, err = e.ReleaseReplica(in.SecretID, in.Region)
	default:
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": `action must be "hold", "fail" or "release"`})
		return
	}
	if err != nil {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	faults.WriteJSON(w, http.StatusOK, st)
}

// serveReplicationLag: GET reads the replication lag, POST or PUT
// {"lag_ms": N} sets it.
func (e *Emulator) serveReplicationLag(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		r.Method = http.MethodPost // decodeControl takes POST; PUT is the same here
	}
	if r.Method != http.MethodGet {
		var in struct {
			LagMS *int64 `json:"lag_ms"`
		}
		if !decodeControl(w, r, &in) {
			return
		}
		if in.LagMS == nil || *in.LagMS < 0 || *in.LagMS > int64(24*time.Hour/time.Millisecond) {
			faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "lag_ms is required: 0 to 86400000"})
			return
		}
		_ = e.SetReplicationLag(time.Duration(*in.LagMS) * time.Millisecond)
	}
	faults.WriteJSON(w, http.StatusOK, map[string]any{"lag_ms": e.ReplicationLag().Milliseconds()})
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

// serveClock: GET reads the emulator's clock, POST {"advance_seconds": N}
// moves it forward (as the Aiven emulator's /_emulator/clock does).
func (e *Emulator) serveClock(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		faults.WriteJSON(w, http.StatusOK, map[string]any{"now": e.Now().UTC().Format(time.RFC3339Nano)})
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
	faults.WriteJSON(w, http.StatusOK, map[string]any{"now": now.UTC().Format(time.RFC3339Nano)})
}

// serveVersionAge: POST {"secret_id", "version_id" or "version_stage",
// "age_seconds"} backdates the version (AgeVersion) and answers it.
func (e *Emulator) serveVersionAge(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SecretID     string `json:"secret_id"`
		VersionID    string `json:"version_id"`
		VersionStage string `json:"version_stage"`
		AgeSeconds   int64  `json:"age_seconds"`
	}
	if !decodeControl(w, r, &in) {
		return
	}
	if in.SecretID == "" || (in.VersionID == "") == (in.VersionStage == "") {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "give secret_id and one of version_id, version_stage"})
		return
	}
	v, err := e.AgeVersion(in.SecretID, in.VersionID, in.VersionStage, time.Duration(in.AgeSeconds)*time.Second)
	if err != nil {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	faults.WriteJSON(w, http.StatusOK, map[string]any{
		"version_id": v.VersionID, "version_stages": v.Stages,
		"created_date": v.Created.UTC().Format(time.RFC3339Nano),
	})
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Method != http.MethodPost {
		faults.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use POST"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		faults.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "request body: " + err.Error()})
		return false
	}
	return true
}
