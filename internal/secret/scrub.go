package secret

import (
	"slices"
	"strings"
)

// Scrubbing cuts anything shaped like an Aiven token out of a text, whoever
// wrote it: a log line, an upstream's error, a URL quoted in an error. The
// rotator's values are redacted by value elsewhere; this knows their shape.
//
// Aiven tokens are 372 characters of standard base64, newer ones "AVNU_" +
// 372; their prefixes are the first 12 characters. Scrub cuts:
//
//   - "AVNU_" followed by 8 or more base64 characters: more than a prefix;
//   - a run of base64 characters (A-Z a-z 0-9 + /, then up to two "=") of
//     scrubMixedRun or more characters holding an upper-case letter, a
//     lower-case letter and a digit or "+", as every stretch of random
//     base64 that long does but about one in 400 (a digit alone was
//     missing from one in 230, and a clipped 40-character fragment of a
//     token holding only "+" once slipped through that way; "/" is not
//     counted, since it joins path and secret-name words into long runs);
//   - any run of scrubAnyRun or more, whatever it holds.
//
// What survives: a 12-character prefix, ARNs (":" and "-" end a run, so a
// secret's name is judged on its own and names of up to 31 characters are
// never touched), UUID version ids (hyphens), marker hashes (16 hex),
// SHA-256 hex (64 characters of one case), AWS error names (letters only).
const (
	scrubMixedRun = 32
	scrubAnyRun   = 72
	// Redacted replaces what Scrub cuts.
	Redacted   = "[REDACTED]"
	avnuPrefix = "AVNU_"
	// avnuKeep is how many base64 characters may follow "AVNU_" in a
	// token prefix (12 characters in all).
	avnuKeep = 7
)

// Scrub cuts every token-shaped run out of s, each replaced by Redacted;
// s comes back unchanged (and unallocated, when it holds no "%") when
// there is none. See ScrubWith for the percent-decoded reading.
func Scrub(s string) string { return ScrubWith(s, TokenSpans, Redacted) }

// ScrubWith replaces with mark every span that spans finds in s, judging s
// as it is and s percent-decoded: a URL writes a token's "/" as %2F, "+"
// as %2B and "=" as %3D, which cut it into short runs (*url.Error quotes
// whole URLs). The original text of a span found in either is cut;
// overlapping spans are merged.
func ScrubWith(s string, spans func(string) [][2]int, mark string) string {
	found := spans(s)
	if strings.IndexByte(s, '%') >= 0 {
		if d, pos := percentDecode(s); len(d) < len(s) {
			for _, sp := range spans(d) {
				found = append(found, [2]int{pos[sp[0]], pos[sp[1]]})
			}
		}
	}
	return cutSpans(s, found, mark)
}

// TokenSpans is the [start, end) of every token-shaped run of s, by the
// rule above; nil, unallocated, when there is none.
func TokenSpans(s string) [][2]int {
	var spans [][2]int
	for i := 0; i < len(s); {
		if !IsBase64(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && IsBase64(s[i]) {
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
			for j < len(s) && (IsBase64(s[j]) || s[j] == '=') {
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

// tokenShaped judges one base64 run.
func tokenShaped(run string) bool {
	if len(run) >= scrubAnyRun {
		return true
	}
	if len(run) < scrubMixedRun {
		return false
	}
	var upper, lower, other bool
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9', c == '+':
			// Not "/": it joins path and secret-name words into runs.
			other = true
		}
	}
	return upper && lower && other
}

// IsBase64 says whether c is of the standard base64 alphabet, padding
// aside.
func IsBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// IsTokenChar says whether c may stand inside an Aiven token: base64,
// its padding, and the "_" of "AVNU_". A text clipped in the middle of a
// run of these could keep a fragment of a token.
func IsTokenChar(c byte) bool { return IsBase64(c) || c == '=' || c == '_' }

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

// cutSpans replaces each span of s (overlapping ones merged) with mark; s
// comes back as it is when there is none.
func cutSpans(s string, spans [][2]int, mark string) string {
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
		b.WriteString(mark)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}
