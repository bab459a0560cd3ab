package boundedhttp

import (
	"bytes"
	"encoding/json"
)

// Bounds on the structure of a 2xx answer, checked before a Client hands
// it to a decoder: decoding turns a few bytes ("{}," is three) into
// hundreds of bytes of heap (a megabyte of "{}," is 350,000 objects), so a
// body capped in bytes alone does not bound memory.
//
// maxElements bounds the elements of any one array and the members of any
// one object. Aiven: a user holds at most 10 personal tokens and an
// application user few more, a token has about a dozen fields and short
// scope and allowlist arrays, so 1000 is a hundred times what Aiven sends.
// Secrets Manager: a secret keeps about a hundred versions at most,
// ListSecrets and BatchGetSecretValue answer at most 100 and 20 entries, a
// secret holds at most 50 tags, so 1000 is ten times the largest.
// maxValues bounds the JSON tokens (keys and values) of the whole answer,
// so that many containers under the per-container bound cannot add up
// either; 50000 tokens decode to a few MiB at most.
const (
	maxElements = 1000
	maxValues   = 50000
)

// within says whether every container of b holds at most maxElements
// elements and b at most maxValues tokens. Malformed JSON is within: the
// decoder that follows reports it. It only reads b.
func within(b []byte) bool { return withinBounds(b, maxElements, maxValues) }

// withinBounds walks b's JSON tokens and says whether every array and
// object holds at most perContainer elements (members count once each) and
// the whole at most total tokens (keys and values). It stops at the first
// bound passed.
func withinBounds(b []byte, perContainer, total int) bool {
	type level struct {
		object, wantValue bool
		n                 int
	}
	var stack []level
	dec := json.NewDecoder(bytes.NewReader(b))
	for values := 0; ; {
		tok, err := dec.Token()
		if err != nil {
			return true // io.EOF, or malformed JSON the decoder will report
		}
		d, isDelim := tok.(json.Delim)
		if isDelim && (d == ']' || d == '}') {
			stack = stack[:len(stack)-1]
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if !top.wantValue {
				if top.n++; top.n > perContainer {
					return false
				}
			}
			if top.object {
				top.wantValue = !top.wantValue
			}
		}
		if values++; values > total {
			return false
		}
		if isDelim {
			stack = append(stack, level{object: d == '{'})
		}
	}
}
