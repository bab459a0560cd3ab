package boundedhttp

import (
	"strings"
	"testing"
)

func TestWithinBounds(t *testing.T) {
	many := func(open, item, closing string, n int) string {
		return open + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + closing
	}
	members := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `":1`)
		}
		return b.String() + "}"
	}
	for _, tt := range []struct {
		name string
		body string
		want bool
	}{
		{"scalars", `"x"`, true},
		{"array at the bound", many("[", "1", "]", 10), true},
		{"array over the bound", many("[", "1", "]", 11), false},
		{"object members at the bound", members(10), true},
		{"object members over the bound", members(11), false},
		{"nested array over the bound", `{"a":[[1],` + many("[", "[]", "]", 11) + `]}`, false},
		{"values over the total", many("[", many("[", "0", "]", 5), "]", 9), false},
		{"malformed is left to the decoder", `{"a":[1,2`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := withinBounds([]byte(tt.body), 10, 50); got != tt.want {
				t.Errorf("withinBounds(%.60q) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

// The bounds both clients check a 2xx answer against, with answers shaped
// like each service's.
func TestWithin(t *testing.T) {
	many := func(open, elem, close string, n int) string {
		return open + strings.TrimSuffix(strings.Repeat(elem+",", n), ",") + close
	}
	for _, tt := range []struct {
		name, body string
		ok         bool
	}{
		{"an Aiven token list", `{"tokens":[{"token_prefix":"abc","scopes":["user:read"]},{"token_prefix":"def"}]}`, true},
		{"a Secrets Manager description", `{"ARN":"arn:x","VersionIdsToStages":{"v1":["AWSCURRENT"],"v2":["AWSPREVIOUS"]}}`, true},
		{"array at the bound", many("[", "1", "]", maxElements), true},
		{"array over the bound", many("[", "1", "]", maxElements+1), false},
		{"object over the bound", many("{", `"k":1`, "}", maxElements+1), false},
		{"nested arrays over the bound", `{"a":[[1],` + many("[", "[]", "]", maxElements+1) + `]}`, false},
		{"values over the total", many("[", many("[", "0", "]", 100), "]", maxValues/100+1), false},
		{"malformed passes to the decoder", `{"tokens":[1,2`, true},
		{"malformed passes to the decoder, again", `{"a":[1,2`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := within([]byte(tt.body)); got != tt.ok {
				t.Fatalf("within = %v, want %v", got, tt.ok)
			}
		})
	}
}
