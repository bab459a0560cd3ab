// Package scrub is the function's output boundary's own defence of rule
// I4 (docs/rotation.md): whatever produced a log line or an action's
// result (our code, the AWS SDK, go-client-codegen, a proxy's body quoted
// in an error), anything shaped like an Aiven token is cut by secret.Scrub
// before it leaves. The steps' redaction only knows the values a step
// holds; this knows their shape.
package scrub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// handler wraps a slog.Handler and scrubs the message, every attribute
// key and string value, group by group, after resolving LogValuers, and
// the text of errors, Stringers and other values as the handler would
// print them.
type handler struct{ next slog.Handler }

var _ slog.Handler = handler{}

// NewHandler wraps next; wrapping an already wrapped handler returns
// it as it is.
func NewHandler(next slog.Handler) slog.Handler {
	if h, ok := next.(handler); ok {
		return h
	}
	return handler{next: next}
}

func (h handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{next: h.next.WithAttrs(scrubAttrs(attrs))}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{next: h.next.WithGroup(String(name))}
}

func scrubAttrs(as []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = scrubAttr(a)
	}
	return out
}

func scrubAttr(a slog.Attr) slog.Attr {
	a.Key = String(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(String(v.String()))
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
		if b, err := json.Marshal(x); err != nil || String(string(b)) != string(b) {
			return slog.StringValue(String(fmt.Sprintf("%+v", x)))
		}
		return changedOr(v, fmt.Sprintf("%+v", x))
	}
}

func changedOr(v slog.Value, text string) slog.Value {
	if clean := String(text); clean != text {
		return slog.StringValue(clean)
	}
	return v
}

// String cuts every token-shaped run out of s (secret.Scrub).
// String is s with every token shape cut.
func String(s string) string { return secret.Scrub(s) }

// Result is an action's result as it leaves the function, for the
// person or tool that invoked it (`aws lambda invoke` prints it): its
// JSON, with every member name and every string scrubbed as a log line's
// are (String). Structure, member order and numbers are kept. It is
// applied once, where Serve returns, so that no field of any action's
// result (the sweep's, its dry run's, rotate's) can escape the rule.
func Result(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out bytes.Buffer
	if err := scrubJSONValue(dec, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// scrubJSONValue copies the next JSON value of dec to out, scrubbing its
// strings and member names.
func scrubJSONValue(dec *json.Decoder, out *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		out.WriteByte(byte(t))
		for first := true; dec.More(); first = false {
			if !first {
				out.WriteByte(',')
			}
			if t == '{' {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				name, ok := key.(string)
				if !ok {
					return fmt.Errorf("result: a member name of type %T", key)
				}
				writeJSONString(out, String(name))
				out.WriteByte(':')
			}
			if err := scrubJSONValue(dec, out); err != nil {
				return err
			}
		}
		end, err := dec.Token()
		if err != nil {
			return err
		}
		out.WriteByte(byte(end.(json.Delim)))
	case string:
		writeJSONString(out, String(t))
	case json.Number:
		out.WriteString(t.String())
	case bool:
		out.WriteString(strconv.FormatBool(t))
	case nil:
		out.WriteString("null")
	default:
		return fmt.Errorf("result: a JSON token of type %T", tok)
	}
	return nil
}

func writeJSONString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	out.Write(b)
}
