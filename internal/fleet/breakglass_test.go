package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestDecodeBreakGlass(t *testing.T) {
	many := make([]string, maxRevokePrefixes+1)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("AVNU_%07d", i))
	}
	for _, tc := range []struct {
		fields   string
		previous bool
		prefixes []string
		wantErr  string
	}{
		{`"revoke_previous":"now"`, true, nil, ""},
		{`"revoke_prefixes":["AVNU_abcdefg"]`, false, []string{"AVNU_abcdefg"}, ""},
		// Each prefix once, in order; one not shaped as a prefix is the
		// action's to refuse and report, not the decoder's.
		{`"revoke_previous":"now","revoke_prefixes":["b","a","b",""]`, true, []string{"b", "a", ""}, ""},
		{`"revoke_prefixes":[` + strings.Join(many[:maxRevokePrefixes], ",") + `]`, false, nil, ""},
		{`"revoke_previous":"later"`, false, nil, `revoke_previous must be "now"`},
		{`"revoke_previous":false`, false, nil, `revoke_previous must be "now"`},
		{`"revoke_previous":null`, false, nil, `revoke_previous must be "now"`},
		{`"revoke_previous":"AVNU_secretvalue"`, false, nil, `revoke_previous must be "now"`},
		{`"revoke_prefixes":"AVNU_secretvalue"`, false, nil, "revoke_prefixes must be a list of strings"},
		{`"revoke_prefixes":null`, false, nil, "revoke_prefixes must be a list of strings"},
		{`"revoke_prefixes":{}`, false, nil, "revoke_prefixes must be a list of strings"},
		{`"revoke_prefixes":[]`, false, nil, "revoke_prefixes is empty"},
		{`"revoke_prefixes":["AVNU_secretvalue",null]`, false, nil, "revoke_prefixes[1] must be a string"},
		{`"revoke_prefixes":[` + strings.Join(many, ",") + `]`, false, nil, "names 21 tokens, more than the 20"},
	} {
		act, recognised, err := decodeAction(json.RawMessage(`{"action":"rotate","secret_id":"aiven/a",` + tc.fields + `}`))
		switch {
		case !recognised:
			t.Errorf("%s: not recognised", tc.fields)
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "nothing was done") {
				t.Errorf("%s: %v, want an error containing %q", tc.fields, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "AVNU_secretvalue") {
				t.Errorf("%s: the error quotes a value: %v", tc.fields, err)
			}
		case err != nil || act.breakGlass == nil:
			t.Errorf("%s: %+v %v", tc.fields, act, err)
		case act.breakGlass.revokePrevious != tc.previous || (tc.prefixes != nil && !slices.Equal(act.breakGlass.prefixes, tc.prefixes)):
			t.Errorf("%s: %+v, want previous %v, prefixes %q", tc.fields, act.breakGlass, tc.previous, tc.prefixes)
		}
	}
	// A plain rotate is no break-glass.
	if act, _, err := decodeAction(json.RawMessage(`{"action":"rotate","secret_id":"aiven/a"}`)); err != nil || act.breakGlass != nil {
		t.Errorf("plain rotate: %+v %v", act, err)
	}
	// Sweeps take neither field.
	if _, _, err := decodeAction(json.RawMessage(`{"action":"sweep","revoke_previous":"now"}`)); err == nil || !strings.Contains(err.Error(), "unknown field(s) [revoke_previous]") {
		t.Errorf("sweep with revoke_previous: %v", err)
	}
}
