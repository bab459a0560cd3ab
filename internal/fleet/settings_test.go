package fleet

import (
	"encoding/json"
	"strings"
	"testing"
)

// The settings findings are fields of the secret's entry and counts of
// the report; an entry with one is kept when the results are capped, and
// a long finding is clipped.
func TestSettingsFindingsInTheReport(t *testing.T) {
	rep := &sweepReport{Action: actionSweep, Results: []sweptSecret{
		{Secret: "arn:a", Outcome: sweptHealthy},
		{Secret: "arn:b", Outcome: sweptHealthy, sweptSettings: sweptSettings{AtRisk: "secret arn:b: ... org1 ...", ExpiresBeforeRotation: "expires first"}},
		{Secret: "arn:c", Outcome: sweptHealthy, sweptSettings: sweptSettings{GraceCutShort: clipSetting(strings.Repeat("g", 2*maxReportedSetting))}},
	}}
	for _, s := range rep.Results {
		rep.settingsCounts.add(s.sweptSettings)
	}
	if rep.AtRisk != 1 || rep.ExpiresBeforeRotation != 1 || rep.GraceCutShort != 1 {
		t.Fatalf("counts %+v", rep.settingsCounts)
	}
	if m := rep.metrics("fn"); m.AtRisk != 1 || m.ExpiresBeforeRotation != 1 {
		t.Errorf("metrics %+v", m)
	}
	rep.capResults(2)
	if len(rep.Results) != 2 || rep.Results[0].Secret != "arn:b" || rep.Results[1].Secret != "arn:c" {
		t.Fatalf("capped to %+v; want the entries with findings", rep.Results)
	}
	if n := len(rep.Results[1].GraceCutShort); n != maxReportedSetting+3 {
		t.Errorf("a long finding is %d characters", n)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		AtRisk  int `json:"at_risk"`
		Results []struct {
			AtRisk                string `json:"at_risk"`
			ExpiresBeforeRotation string `json:"expires_before_rotation"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.AtRisk != 1 || got.Results[0].AtRisk == "" || got.Results[0].ExpiresBeforeRotation != "expires first" {
		t.Fatalf("JSON %s (%v)", b, err)
	}
	if strings.Contains(string(b[strings.Index(string(b), `"arn:c"`):]), `"at_risk"`) {
		t.Errorf("an empty finding is written: %s", b)
	}
}
