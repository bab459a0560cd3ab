package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// The scrubber is the logging boundary's own defence of rule I4: whatever
// produced a log line (our code, the AWS SDK, go-client-codegen, a proxy's
// body quoted in an error), anything shaped like an Aiven token is cut
// before the line is written. redact only knows the values a step holds;
// this knows their shape.
//
// Aiven tokens are 372 characters of standard base64, newer ones "AVNU_" +
// 372; their prefixes are the first 12 characters. What is cut:
//
//   - "AVNU_" followed by 8 or more base64 characters: more than a prefix;
//   - a run of base64 characters (A-Z a-z 0-9 + /, then up to two "=") of
//     scrubMixedRun or more characters holding an upper-case letter, a
//     lower-case letter and a digit, as every stretch of random base64
//     that long does (one in 250 lacks a digit);
//   - any run of scrubAnyRun or more, whatever it holds.
//
// What survives: a 12-character prefix, ARNs (":" and "-" end a run, so a
// secret's name is judged on its own and names of up to 31 characters are
// never touched), UUID version ids (hyphens), marker hashes (16 hex),
// SHA-256 hex (64 characters of one case), AWS error names (letters only).
const (
	scrubMixedRun = 32
	scrubAnyRun   = 72
	avnuPrefix    = "AVNU_"
	// avnuKeep is how many base64 characters may follow "AVNU_" in a
	// token prefix (12 characters in all).
	avnuKeep = 7
	scrubbed = "[REDACTED]"
)

// scrubHandler wraps a slog.Handler and scrubs the message, every attribute
// key and string value, group by group, after resolving LogValuers, and
// the text of errors, Stringers and other values as the handler would
// print them.
type scrubHandler struct{ next slog.Handler }

var _ slog.Handler = scrubHandler{}

// newScrubHandler wraps next; wrapping an already wrapped handler returns
// it as it is.
func newScrubHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(scrubHandler); ok {
		return h
	}
	return scrubHandler{next: next}
}

func (h scrubHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, scrubString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h scrubHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return scrubHandler{next: h.next.WithAttrs(scrubAttrs(attrs))}
}

func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{next: h.next.WithGroup(scrubString(name))}
}

func scrubAttrs(as []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = scrubAttr(a)
	}
	return out
}

func scrubAttr(a slog.Attr) slog.Attr {
	a.Key = scrubString(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(scrubString(v.String()))
	case slog.KindGroup:
		a.Value = slog.GroupValue(scrubAttrs(v.Group())...)
	case slog.KindAny:
		a.Value = scrubAny(v)
	default:
		a.Value = v // numbers, booleans, times, durations
	}
	return a
}

// scrubAny checks a value the way handlers print it: an error by its
// Error(), a Stringer by String(), anything else by JSON (JSONHandler) and
// by %+v (TextHandler). A value with nothing to cut is kept as it is; one
// with something becomes its scrubbed text.
func scrubAny(v slog.Value) slog.Value {
	switch x := v.Any().(type) {
	case nil:
		return v
	case error:
		return changedOr(v, x.Error())
	case fmt.Stringer:
		return changedOr(v, x.String())
	case []byte:
		return changedOr(v, string(x))
	default:
		if b, err := json.Marshal(x); err != nil || scrubString(string(b)) != string(b) {
			return slog.StringValue(scrubString(fmt.Sprintf("%+v", x)))
		}
		return changedOr(v, fmt.Sprintf("%+v", x))
	}
}

func changedOr(v slog.Value, text string) slog.Value {
	if clean := scrubString(text); clean != text {
		return slog.StringValue(clean)
	}
	return v
}

// scrubString cuts every token-shaped run out of s; s comes back unchanged
// (and unallocated, when it holds no "%") when there is none. It judges s
// as it is and s percent-decoded: a URL writes a token's "/" as %2F, "+"
// as %2B and "=" as %3D, which cut it into runs under the thresholds
// (*url.Error quotes whole URLs). The original text of a run found in
// either is cut.
func scrubString(s string) string {
	spans := tokenSpans(s, nil)
	if strings.IndexByte(s, '%') >= 0 {
		d, pos := percentDecode(s)
		if len(d) < len(s) {
			for _, sp := range tokenSpans(d, nil) {
				spans = append(spans, [2]int{pos[sp[0]], pos[sp[1]]})
			}
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	last := 0 // s[last:] is not yet copied to b
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] <= end; i++ {
			end = max(end, spans[i][1])
		}
		b.WriteString(s[last:start])
		b.WriteString(scrubbed)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// tokenSpans appends to spans the [start, end) of every token-shaped run
// of s.
func tokenSpans(s string, spans [][2]int) [][2]int {
	for i := 0; i < len(s); {
		if !isB64(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && isB64(s[i]) {
			i++
		}
		for n := 0; n < 2 && i < len(s) && s[i] == '='; n++ {
			i++
		}
		switch {
		case tokenShaped(s[start:i]):
			spans = append(spans, [2]int{start, i})
		case i-start == len(avnuPrefix)-1 && s[start:i] == avnuPrefix[:len(avnuPrefix)-1] && i < len(s) && s[i] == '_':
			// "AVNU" then "_": the run after the underscore decides.
			j := i + 1
			for j < len(s) && (isB64(s[j]) || s[j] == '=') {
				j++
			}
			if j-(i+1) > avnuKeep {
				spans = append(spans, [2]int{start, j})
				i = j
			}
		}
	}
	return spans
}

// percentDecode decodes every %XX of s, as url.PathUnescape does, leaving a
// malformed escape as it is; pos[i] is where d[i] starts in s, and
// pos[len(d)] is len(s).
func percentDecode(s string) (d string, pos []int) {
	var b strings.Builder
	pos = make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		pos = append(pos, i)
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 3
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), append(pos, len(s))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// tokenShaped judges one base64 run.
func tokenShaped(run string) bool {
	if len(run) >= scrubAnyRun {
		return true
	}
	if len(run) < scrubMixedRun {
		return false
	}
	var upper, lower, digit bool
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		}
	}
	return upper && lower && digit
}

func isB64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}
