package secret

import (
	"regexp"
	"strings"
	"testing"
)

const (
	arnA = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/aiven-AbCdEf"
	arnB = "arn:aws:secretsmanager:us-east-1:000000000000:secret:other-XyZ123"
	verA = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	verB = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
)

func TestMarkerRoundTrip(t *testing.T) {
	m, err := NewMarker(arnA, verA)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		description string
		wantFound   bool
		wantSame    bool // same secret and version as m
		wantSecret  bool // same secret as m
	}{
		{name: "alone", description: Describe("", m), wantFound: true, wantSame: true, wantSecret: true},
		{name: "after a user description", description: Describe("CI deploys", m), wantFound: true, wantSame: true, wantSecret: true},
		{name: "other version", description: Describe("CI", mustMarker(t, arnA, verB)), wantFound: true, wantSecret: true},
		{name: "other secret", description: Describe("CI", mustMarker(t, arnB, verA)), wantFound: true},
		{name: "no marker", description: "created by hand"},
		{name: "look-alike", description: "[aiven-token-rotator secret=xyz version=1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := ParseMarker(tt.description)
			if found != tt.wantFound {
				t.Fatalf("found = %v, want %v", found, tt.wantFound)
			}
			if (got == m) != tt.wantSame {
				t.Errorf("same marker = %v, want %v (%+v)", got == m, tt.wantSame, got)
			}
			if (found && got.Secret == m.Secret) != tt.wantSecret {
				t.Errorf("same secret = %v, want %v", got.Secret == m.Secret, tt.wantSecret)
			}
		})
	}
}

func mustMarker(t *testing.T, arn, version string) Marker {
	t.Helper()
	m, err := NewMarker(arn, version)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDescribeReplacesOldMarkerAndFits(t *testing.T) {
	old := mustMarker(t, arnA, verB)
	m := mustMarker(t, arnA, verA)
	d := Describe("CI deploys "+old.String(), m)
	if d != "CI deploys "+m.String() {
		t.Errorf("got %q", d)
	}
	long := strings.Repeat("é", 2000)
	d = Describe(long, m)
	if len(d) > maxDescription {
		t.Errorf("description is %d bytes, over %d", len(d), maxDescription)
	}
	if got, ok := ParseMarker(d); !ok || got != m {
		t.Errorf("marker lost in truncation: %q", d[len(d)-100:])
	}
	if !strings.HasPrefix(d, "éé") {
		t.Error("user description dropped instead of truncated")
	}
}

func TestSecretHashIsShortAndStable(t *testing.T) {
	h := SecretHash(arnA + strings.Repeat("x", 500))
	first, again := SecretHash(arnA), SecretHash(arnA)
	if len(h) != 16 || first != again || first == SecretHash(arnB) {
		t.Errorf("hash %q", h)
	}
}

func TestNewMarkerRejectsUnsafeVersion(t *testing.T) {
	for _, v := range []string{"", "a b", "x]y", strings.Repeat("a", 65)} {
		if _, err := NewMarker(arnA, v); err == nil {
			t.Errorf("NewMarker accepted %q", v)
		}
	}
}

// Found by FuzzMarker: removing a nested marker joined the text around it
// into another marker, which stripMarkers left in the user's description
// (and Describe then changed on a second call).
func TestStripMarkersLeavesNoneBehind(t *testing.T) {
	nested := "ops [aiven-token-rotator secret=0123456789abcdef version=[aiven-token-rotator secret=0123456789abcdef version=a]b]"
	if got := stripMarkers(nested); got != "ops" {
		t.Errorf("stripMarkers = %q, want %q", got, "ops")
	}
	m := mustMarker(t, arnA, verA)
	if d := Describe(nested, m); d != "ops "+m.String() || Describe(d, m) != d {
		t.Errorf("Describe = %q", d)
	}
}

func TestMarkerAttempt(t *testing.T) {
	m, err := NewMarker("arn:aws:secretsmanager:us-east-1:000000000000:secret:a-AbCdEf", "v1")
	if err != nil {
		t.Fatal(err)
	}
	mine, err := m.ForAttempt("01234567")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := ParseMarker(Describe("ci token", mine))
	if !ok || got != mine {
		t.Fatalf("ParseMarker(Describe(...)) = %+v, %v; want %+v", got, ok, mine)
	}
	if !got.SameVersion(m) || got == m {
		t.Errorf("a marker with an attempt id must name the same version as one without, and differ from it")
	}
	old, ok := ParseMarker(m.String())
	if !ok || old.Attempt != "" || !old.SameVersion(mine) {
		t.Errorf("a marker without attempt id (written before it existed) parsed as %+v, %v", old, ok)
	}
	for _, bad := range []string{"", "0123456", "012345678", "ABCDEF01", "0123456g"} {
		if _, err := m.ForAttempt(bad); err == nil {
			t.Errorf("ForAttempt(%q) accepted", bad)
		}
	}
}

// validVersion and validAttempt, written by hand so that package init
// compiles no pattern, accept exactly what the patterns they replace did.
func TestHandWrittenChecksMatchThePatterns(t *testing.T) {
	version := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	attempt := regexp.MustCompile(`^[0-9a-f]{8}$`)
	inputs := []string{"", "a", verA, strings.Repeat("x", 64), strings.Repeat("x", 65), "a\n", "a b", "é", "0123abcd", "0123ABCD", "0123abc", "0123abcde", "0123abcg", "0123abc\n"}
	for c := 0; c < 256; c++ {
		inputs = append(inputs, string(rune(c)), "0123abc"+string([]byte{byte(c)}), "v"+string([]byte{byte(c)})+"v")
	}
	for _, in := range inputs {
		if got, want := validVersion(in), version.MatchString(in); got != want {
			t.Errorf("validVersion(%q) = %v, the pattern says %v", in, got, want)
		}
		if got, want := validAttempt(in), attempt.MatchString(in); got != want {
			t.Errorf("validAttempt(%q) = %v, the pattern says %v", in, got, want)
		}
	}
}
