package rotation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// What keeps a named token from a break-glass revocation: every token an
// owned secret holds, keeps for its grace, or may be rotating to; a
// token another stack's rotator made; and anything, when an owned
// secret's value could not be read.
func TestProtectionKeeps(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := &Rotator{cfg: Config{Fleet: FleetConfig{PreviousTokenGrace: 24 * time.Hour}}, now: func() time.Time { return now }}
	const (
		a, b     = "arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf", "arn:aws:secretsmanager:us-east-1:1:secret:b-AbCdEf"
		current  = "AVNU_cur0000" + "restofthetokenrestofthetoken0000"
		extra    = "AVNU_xtr0000" + "anothertokeninanunknownfield0000"
		graced   = "AVNU_grc0000"
		ended    = "AVNU_end0000"
		outsider = "AVNU_out0000"
	)
	value := func(prev, revokeAfter string) string {
		return fmt.Sprintf(`{"token":%q,"token_prefix":"AVNU_cur0000","previous_token_prefix":%q,"previous_token_revoke_after":%q,"team":{"spare":%q}}`, current, prev, revokeAfter, extra)
	}
	marked := func(arn, version string, age time.Duration, prefix string) aiven.Token {
		m, err := secret.NewMarker(arn, version)
		if err != nil {
			t.Fatal(err)
		}
		return aiven.Token{Prefix: prefix, Description: secret.Describe("x", m), CreateTime: now.Add(-age)}
	}
	p := r.Protect([]OwnedSecret{
		{ARN: a, Value: value(graced, now.Add(time.Hour).Format(time.RFC3339)), Pending: map[string]bool{"v-pending": true}},
		{ARN: b, Value: value(ended, now.Add(-time.Hour).Format(time.RFC3339)), LastRotated: now.Add(-25 * time.Hour)},
		{ARN: "arn:aws:secretsmanager:us-east-1:1:secret:d-AbCdEf", Value: `{"token":"AVNU_d000000rest","previous_token_prefix":"AVNU_nrc0000"}`},
	})
	for _, tc := range []struct {
		name string
		t    aiven.Token
		want string // "" when it may go
	}{
		{"the caller's own token", aiven.Token{Prefix: outsider, CurrentlyActive: true}, "the token making this call"},
		{"a current token", aiven.Token{Prefix: "AVNU_cur0000"}, "current token of secret " + a},
		{"a token elsewhere in a value", aiven.Token{Prefix: "AVNU_xtr0000"}, "a token in the current value of secret " + a},
		{"a previous token in its grace", aiven.Token{Prefix: graced}, "previous token of secret " + a},
		{"a previous token past its grace", aiven.Token{Prefix: ended}, ""},
		{"a previous token without a grace record", aiven.Token{Prefix: "AVNU_nrc0000"}, "no grace record ends"},
		{"a token of a pending version", marked(a, "v-pending", 2*time.Hour, "AVNU_pnd0000"), "rotation of secret " + a + " in progress"},
		{"a young token of an owned secret", marked(b, "v-other", time.Minute, "AVNU_yng0000"), "less than an hour ago"},
		{"an old leftover of an owned secret", marked(b, "v-other", 2*time.Hour, "AVNU_old0000"), ""},
		{"another stack's token", marked("arn:aws:secretsmanager:us-east-1:1:secret:c-AbCdEf", "v", 2*time.Hour, "AVNU_oth0000"), "does not rotate"},
		{"a token nobody holds", aiven.Token{Prefix: outsider, Description: "laptop"}, ""},
	} {
		got := p.keeps(tc.t, now)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: keeps %q, want %q", tc.name, got, tc.want)
		}
	}
	// Kept while in use (PREVIOUS_TOKEN_MAX_GRACE): up to the hard limit,
	// whether or not still in use, since telling takes a listing.
	keeping := &Rotator{cfg: Config{Fleet: FleetConfig{PreviousTokenGrace: 24 * time.Hour, PreviousTokenMaxGrace: 48 * time.Hour}}, now: r.now}
	pastGrace := keeping.Protect([]OwnedSecret{{ARN: b, Value: value(ended, now.Add(-time.Hour).Format(time.RFC3339)), LastRotated: now.Add(-25 * time.Hour)}})
	if got := pastGrace.keeps(aiven.Token{Prefix: ended}, now); !strings.Contains(got, "kept while still in use, up to 2026-12-02T11:00:00Z") {
		t.Errorf("past its grace, within the hard limit: %q", got)
	}
	unread := r.Protect([]OwnedSecret{{ARN: a, ReadErr: "AccessDeniedException"}})
	if got := unread.keeps(aiven.Token{Prefix: outsider}, now); !strings.Contains(got, "cannot be ruled out") || !strings.Contains(got, "AccessDeniedException") {
		t.Errorf("with an owned secret unread: %q", got)
	}
}

func TestBreakGlassVersion(t *testing.T) {
	v, err := NewBreakGlassVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !IsBreakGlassVersion(v) || len(v) < 32 || len(v) > 64 || IsBreakGlassVersion("6af93420-69ba-4ce2-8113-d70a5e2043bd") {
		t.Errorf("%q: want a break-glass id of 32 to 64 characters", v)
	}
	if _, err := secret.NewMarker("arn:aws:secretsmanager:us-east-1:1:secret:a-AbCdEf", v); err != nil {
		t.Errorf("a token's marker cannot name %q: %v", v, err)
	}
	if w, _ := NewBreakGlassVersion(); w == v {
		t.Error("two break-glass versions alike")
	}
}
