package aiven

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// ServerTime is the Date of the latest answer, a 401 included: the sweep
// reckons ages and expiry by Aiven's clock.
func TestServerTimeIsTheLatestAnswersDate(t *testing.T) {
	dates := []time.Time{time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)}
	n := 0
	srv := newFakeAiven(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", dates[n].Format(http.TimeFormat))
		n++
		if n == 1 {
			writeJSON(w, 200, `{"tokens":[]}`)
			return
		}
		writeJSON(w, 401, `{"message":"Invalid token","errors":[{"message":"Invalid token","status":401}]}`)
	})
	c := newTestClient(t, srv.URL, loopbackOptions())
	if _, ok := c.ServerTime(); ok {
		t.Fatal("a server time before any answer")
	}
	if _, err := c.ListTokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.ServerTime(); !ok || !got.Equal(dates[0]) {
		t.Errorf("after the list: %v %v, want %v", got, ok, dates[0])
	}
	if _, err := c.ListTokens(context.Background()); !IsUnauthorized(err) {
		t.Fatalf("second list: %v, want a 401", err)
	}
	if got, _ := c.ServerTime(); !got.Equal(dates[1]) {
		t.Errorf("after the 401: %v, want %v", got, dates[1])
	}
}
