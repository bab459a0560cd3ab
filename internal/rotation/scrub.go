package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// The scrubber is the logging boundary's own defence of rule I4: whatever
// produced a log line (our code, the AWS SDK, go-client-codegen, a proxy's
// body quoted in an error), anything shaped like an Aiven token is cut by
// secret.Scrub before the line is written. redact only knows the values a
// step holds; this knows their shape.
const (
	avnuPrefix = "AVNU_"
	scrubbed   = secret.Redacted
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

// scrubString cuts every token-shaped run out of s (secret.Scrub).
func scrubString(s string) string { return secret.Scrub(s) }
