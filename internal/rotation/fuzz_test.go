package rotation

import (
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	decodeTemplatesOnce sync.Once
	decodeTemplates     []*regexp.Regexp
	fieldList           = regexp.MustCompile(`(?s)fields \[(.*)\] and no Step`)
)

// decodeEventMessages reads decodeEvent's error formats out of rotator.go,
// so that the fuzz target knows every message it may give: %s is a word
// (a JSON kind, a member name) except the list of member names, which
// checkDecodeError checks on its own.
func decodeEventMessages(t testing.TB) []*regexp.Regexp {
	decodeTemplatesOnce.Do(func() {
		src, err := os.ReadFile("rotator.go")
		if err != nil {
			t.Fatal(err)
		}
		body := string(src)
		start := strings.Index(body, "\nfunc decodeEvent(")
		end := strings.Index(body[start+1:], "\n}\n")
		if start < 0 || end < 0 {
			t.Fatal("decodeEvent not found in rotator.go")
		}
		body = body[start : start+1+end]
		lit := regexp.MustCompile(`(?:errors\.New|fmt\.Errorf)\(("(?:[^"\\]|\\.)*")`)
		for _, m := range lit.FindAllStringSubmatch(body, -1) {
			s, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatal(err)
			}
			re := regexp.QuoteMeta(s)
			re = strings.ReplaceAll(re, `\[%s\]`, `\[.*\]`)
			re = strings.ReplaceAll(re, `%s`, `[A-Za-z]+`)
			decodeTemplates = append(decodeTemplates, regexp.MustCompile("(?s)^"+re+"$")) // a member name may hold a newline
		}
		if len(decodeTemplates) < 8 {
			t.Fatalf("found only %d messages in decodeEvent", len(decodeTemplates))
		}
	})
	return decodeTemplates
}

// checkDecodeError: the message is one of decodeEvent's own, and the only
// text it takes from the event, the list of member names, holds member
// names only (clipped), never a value.
func checkDecodeError(t *testing.T, raw []byte, msg string) {
	t.Helper()
	matched := false
	for _, re := range decodeEventMessages(t) {
		matched = matched || re.MatchString(msg)
	}
	if !matched {
		t.Fatalf("message %q is not one of decodeEvent's", msg)
	}
	m := fieldList.FindStringSubmatch(msg)
	if m == nil {
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("listed the members of something that is not an object: %q", msg)
	}
	names := map[string]bool{"...": true}
	for k := range fields {
		names[clip(k, 40)] = true
	}
	// Names may hold ", ": the list must be some sequence of them.
	if len(fields) > 0 && !isNameList(m[1], names) || len(fields) == 0 && m[1] != "" {
		t.Fatalf("the member list %q is not made of member names only", m[1])
	}
}

// isNameList says whether listed is names joined by ", " (with repeats, so
// that a short check cannot be fooled; members are unique anyway).
func isNameList(listed string, names map[string]bool) bool {
	for n := range names {
		if !strings.HasPrefix(listed, n) {
			continue
		}
		rest := listed[len(n):]
		if rest == "" || strings.HasPrefix(rest, ", ") && isNameList(rest[2:], names) {
			return true
		}
	}
	return false
}

// Found by FuzzDecodeEvent: a JSON null was "an object with fields [] and
// no Step".
func TestDecodeEventNamesNull(t *testing.T) {
	_, err := decodeEvent(json.RawMessage(" null "))
	if err == nil || !strings.Contains(err.Error(), "a JSON null, not an object") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		string(event(StepCreate, "v1")),
		`{"Step":"rollback","SecretId":"arn","ClientRequestToken":"v1"}`,
		`hello`, `[1]`, `"s"`, `true`, `null`, `12`, ` `, ``,
		`{"foo":"secret-looking-value","bar":1}`,
		`{"version":"0","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`,
		`{"Step":1,"SecretId":"x","ClientRequestToken":"v"}`,
		`{"Step":"createSecret","ClientRequestToken":"v"}`,
		`{"Step":"createSecret","SecretId":"x"}`,
		`{"Step":"createSecret","SecretId":"x","ClientRequestToken":"v","RotationToken":["t"]}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k, l":11}`,
		`{"Step":"createSecret","SecretId":"x","ClientRequestToken":"v","Step":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := decodeEvent(raw)
		if err != nil {
			checkDecodeError(t, raw, err.Error())
			return
		}
		if ev.SecretID == "" || ev.ClientRequestToken == "" {
			t.Fatalf("accepted an event without SecretId or ClientRequestToken: %q", raw)
		}
	})
}
