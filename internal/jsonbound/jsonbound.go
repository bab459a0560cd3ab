// Package jsonbound bounds the structure of a JSON answer before anything
// decodes it. A body capped in bytes can still cost far more in memory:
// a megabyte of "{}," is 350,000 objects once a client decodes it into
// structs. Both upstream clients (Aiven, Secrets Manager) pre-scan their
// answers with Within.
package jsonbound

import (
	"bytes"
	"encoding/json"
)

// Within walks b's JSON tokens and says whether every array and object
// holds at most maxElements elements (members count once each) and the
// whole at most maxValues tokens (keys and values). It stops at the first
// bound passed. Malformed JSON is within: the decoder that follows
// reports it. It only reads b.
func Within(b []byte, maxElements, maxValues int) bool {
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
				if top.n++; top.n > maxElements {
					return false
				}
			}
			if top.object {
				top.wantValue = !top.wantValue
			}
		}
		if values++; values > maxValues {
			return false
		}
		if isDelim {
			stack = append(stack, level{object: d == '{'})
		}
	}
}
