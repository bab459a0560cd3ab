package docs

import (
	"os"
	"path/filepath"
	"testing"
)

// The pages follow the conventions TestWalkthroughs reads, checked without
// running anything, so that this holds where the AWS CLI is missing too.
func TestWalkthroughPagesFollowTheConventions(t *testing.T) {
	for _, page := range walkthroughs {
		raw, err := os.ReadFile(filepath.Join("..", "..", page))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := readBlocks(string(raw))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		all, err := steps(blocks)
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		started, compared := false, 0
		for _, s := range all {
			switch {
			case s.notLocal:
			case s.start:
				started = true
			case !started:
				t.Errorf("%s:%d: a command block before any `make localstack` block", page, s.line)
			}
			if s.expected != nil {
				compared++
			}
		}
		if !started || compared == 0 {
			t.Errorf("%s: no `make localstack` block, or no output shown: is it still a walkthrough?", page)
		}
	}
}

func TestOutputMatching(t *testing.T) {
	for _, c := range []struct {
		page, printed string
		want          bool
	}{
		{`{"token_prefix":"4Al/wY8nysxb","state":"live"}`, `{"token_prefix":"Hq6JDgMO3Vy/","state":"live"}`, true},
		{`{"token_prefix":"4Al/wY8nysxb","state":"live"}`, `{"token_prefix":"Hq6JDgMO3Vy/","state":"revoked"}`, false},
		{`"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/team-a-Ab12Cd",`, `"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/team-a-xmz08Q",`, true},
		{`"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/team-a-Ab12Cd",`, `"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:aiven/team-b-xmz08Q",`, false},
		{`{"rotation_started":"a974c7f1-1cb1-4b40-b507-5be5ce4b5a78","until":"2026-12-06T05:58:22Z"}`, `{"rotation_started":"25190163-6be2-4aa6-80ba-5efb745e46bb","until":"2027-01-01T00:00:00.5Z"}`, true},
		{`{"revoked":["QhY3bIE3vIaM"],"expires_in_s":…}`, `{"revoked":["9GlU/kctVttE"],"expires_in_s":431965}`, true},
		{`u2a000002`, `u2a000005`, true},
		{`2`, `4`, false},
	} {
		if got := matches(c.page, c.printed); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.page, c.printed, got, c.want)
		}
	}
	if d := compare([]string{"a", "b"}, []string{"a"}); d == "" {
		t.Error("a missing line is no difference")
	}
}
