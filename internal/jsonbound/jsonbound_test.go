package jsonbound

import (
	"strings"
	"testing"
)

func TestWithin(t *testing.T) {
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
			if got := Within([]byte(tt.body), 10, 50); got != tt.want {
				t.Errorf("Within(%.60q) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}
