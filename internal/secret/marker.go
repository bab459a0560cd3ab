package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxDescription is Aiven's limit on a token description. Counted in bytes,
// the strictest reading of Aiven's "1000 characters".
const maxDescription = 1000

// Marker tags a token's description with the secret and the version that
// created it, so that an interrupted rotation's token can be found again
// (its value is lost) and revoked.
//
//	[aiven-token-rotator secret=<16 hex of sha256(secret ARN)> version=<ClientRequestToken> attempt=<8 hex>]
type Marker struct {
	// Secret is the first 16 hex digits of the SHA-256 of the secret's ARN:
	// short whatever the name's length, and the same for every version.
	Secret string
	// Version is the ClientRequestToken of the version.
	Version string
	// Attempt, 8 hex digits, names the createSecret invocation that made
	// the token, so that after an ambiguous create the invocation can tell
	// its own lost tokens from a concurrent invocation's. Optional: markers
	// written before it existed have none.
	Attempt string
}

const markerTag = "aiven-token-rotator"

// markerPattern finds a marker. It is compiled on first use, not at
// package init: a cold start pays only for what its invocation runs.
var markerPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\[` + markerTag + ` secret=([0-9a-f]{16}) version=([A-Za-z0-9._:-]{1,64})(?: attempt=([0-9a-f]{8}))?\]`)
})

// validVersion says whether v is 1 to 64 characters of A-Z a-z 0-9 . _ : -
// (the version part of markerPattern).
func validVersion(v string) bool {
	if len(v) < 1 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// validAttempt says whether a is 8 lower-case hex digits (the attempt part
// of markerPattern).
func validAttempt(a string) bool {
	if len(a) != 8 {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SecretHash is the Secret part of a marker for the secret with this ARN.
func SecretHash(secretARN string) string {
	sum := sha256.Sum256([]byte(secretARN))
	return hex.EncodeToString(sum[:])[:16]
}

// NewMarker is the marker of one version of one secret. It fails when the
// version id holds characters a marker cannot carry unambiguously.
func NewMarker(secretARN, version string) (Marker, error) {
	if !validVersion(version) {
		return Marker{}, fmt.Errorf("ClientRequestToken must be 1 to 64 characters of A-Z a-z 0-9 . _ : - to be carried in a token marker")
	}
	return Marker{Secret: SecretHash(secretARN), Version: version}, nil
}

// ForAttempt is m naming one createSecret invocation; attempt must be 8
// lower-case hex digits.
func (m Marker) ForAttempt(attempt string) (Marker, error) {
	if !validAttempt(attempt) {
		return Marker{}, fmt.Errorf("marker attempt must be 8 lower-case hex digits")
	}
	m.Attempt = attempt
	return m, nil
}

// SameVersion says whether o names the same secret and version as m,
// whichever invocation made it.
func (m Marker) SameVersion(o Marker) bool {
	return m.Secret == o.Secret && m.Version == o.Version
}

func (m Marker) String() string {
	s := "[" + markerTag + " secret=" + m.Secret + " version=" + m.Version
	if m.Attempt != "" {
		s += " attempt=" + m.Attempt
	}
	return s + "]"
}

// ParseMarker finds the marker in a token description. With several, the
// last one wins: Describe puts the marker at the end.
func ParseMarker(description string) (Marker, bool) {
	all := markerPattern().FindAllStringSubmatch(description, -1)
	if len(all) == 0 {
		return Marker{}, false
	}
	last := all[len(all)-1]
	return Marker{Secret: last[1], Version: last[2], Attempt: last[3]}, true
}

// stripMarkers removes every marker from a description, and the space that
// joined it: what remains is the user's own description. It repeats until
// none is left, since removing one can join the text around it into
// another; each pass removes at least one, so it ends.
func stripMarkers(description string) string {
	for {
		stripped := markerPattern().ReplaceAllString(description, "")
		if stripped == description {
			return strings.TrimSpace(stripped)
		}
		description = stripped
	}
}

// Describe is the description of a new token: the user's description
// (without any older marker), truncated so that the whole fits in
// maxDescription bytes, then a space and the marker.
func Describe(userDescription string, m Marker) string {
	tag := m.String()
	base := stripMarkers(userDescription)
	if base == "" {
		return tag
	}
	room := maxDescription - len(tag) - 1
	if len(base) > room {
		base = base[:room]
		for len(base) > 0 && !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		base = strings.TrimSpace(base)
	}
	if base == "" {
		return tag
	}
	return base + " " + tag
}
