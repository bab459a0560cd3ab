package secret

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDurationFields(t *testing.T) {
	tests := []struct {
		name    string
		field   string // the JSON after "token"
		want    time.Duration
		wantSet bool
		wantErr string // the reason's start; the field is always named
	}{
		{name: "absent"},
		{name: "null", field: `,"previous_token_grace":null`},
		{name: "hours", field: `,"previous_token_grace":"24h"`, want: 24 * time.Hour, wantSet: true},
		{name: "zero", field: `,"previous_token_grace":"0s"`, want: 0, wantSet: true},
		{name: "the maximum", field: `,"previous_token_grace":"168h"`, want: 168 * time.Hour, wantSet: true},
		{name: "over the maximum", field: `,"previous_token_grace":"169h"`, wantErr: "must be from 0s to 168h0m0s"},
		{name: "negative", field: `,"previous_token_grace":"-1h"`, wantErr: "must be from"},
		{name: "days are no Go duration", field: `,"previous_token_grace":"1d"`, wantErr: "is not a Go duration"},
		{name: "a number", field: `,"previous_token_grace":86400`, wantErr: "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse(`{"token":"` + sampleToken + `"` + tt.field + `}`)
			if err != nil {
				t.Fatal(err)
			}
			d, set, err := v.Duration(FieldPreviousTokenGrace, 0, 168*time.Hour)
			if tt.wantErr != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != FieldPreviousTokenGrace || !strings.HasPrefix(fe.Reason, tt.wantErr) {
					t.Fatalf("err %v, want a FieldError on %s starting %q", err, FieldPreviousTokenGrace, tt.wantErr)
				}
				if strings.Contains(err.Error(), "169h") || strings.Contains(err.Error(), "1d") {
					t.Errorf("the error quotes the value: %v", err)
				}
				return
			}
			if err != nil || d != tt.want || set != tt.wantSet {
				t.Errorf("Duration = %v, %v, %v; want %v, %v", d, set, err, tt.want, tt.wantSet)
			}
		})
	}
	// No upper bound: rotate_before_expiry.
	v, _ := Parse(`{"token":"` + sampleToken + `","rotate_before_expiry":"2000h"}`)
	if d, set, err := v.Duration(FieldRotateBeforeExpiry, time.Second, 0); err != nil || !set || d != 2000*time.Hour {
		t.Errorf("rotate_before_expiry = %v %v %v", d, set, err)
	}
}

// The record is written by WithRevokeAfter alone: Next never carries an
// old one into a new version, and removing it leaves the other fields.
func TestRevokeAfterRecord(t *testing.T) {
	at := time.Date(2026, 12, 1, 20, 0, 0, 500, time.FixedZone("x", 3600))
	v, err := Parse(`{"token":"` + sampleToken + `","team":"a"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, set, err := v.RevokeAfter(); set || err != nil {
		t.Fatalf("a fresh value records a revocation: %v %v", set, err)
	}
	withRecord := v.WithRevokeAfter(at)
	if _, set, _ := v.RevokeAfter(); set {
		t.Fatal("WithRevokeAfter changed its receiver")
	}
	s, err := withRecord.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `"previous_token_revoke_after":"2026-12-01T19:00:00Z"`) || !strings.Contains(s, `"team":"a"`) {
		t.Errorf("marshalled %s", s)
	}
	back, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	got, set, err := back.RevokeAfter()
	if err != nil || !set || !got.Equal(at.Truncate(time.Second)) {
		t.Errorf("RevokeAfter = %v %v %v, want %v", got, set, err, at.Truncate(time.Second))
	}
	cleared, _ := back.Next(Issued{Token: NewToken(sampleToken + "x")}).WithRevokeAfter(time.Time{}).Marshal()
	if strings.Contains(cleared, fieldRevokeAfter) || !strings.Contains(cleared, `"team":"a"`) {
		t.Errorf("cleared %s", cleared)
	}
	bad, _ := Parse(`{"token":"` + sampleToken + `","previous_token_revoke_after":"tomorrow"}`)
	var fe *FieldError
	if _, _, err := bad.RevokeAfter(); !errors.As(err, &fe) || fe.Field != fieldRevokeAfter {
		t.Errorf("malformed record: %v", err)
	}
}
