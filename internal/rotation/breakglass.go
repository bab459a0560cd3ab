package rotation

// Break-glass revocation (docs/fleet.md, "Break-glass rotation"): after a
// suspected leak, the fleet's rotate action with "revoke_previous": "now"
// revokes the token a rotation replaced as soon as the new one is current,
// and with "revoke_prefixes" named tokens of the same principal. The fleet
// decides when (it starts the rotation and waits for it); which token may
// go is decided here, by the rules the steps and the sweep apply: the
// previous token only through the grace record that counts (GraceOf), a
// named token never while a secret this function owns holds it, keeps it
// for its grace, or may be rotating to it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/scrub"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// breakGlassVersionPrefix begins the version id of a rotation a break-glass
// request started. RotateSecret carries nothing to the steps but the new
// version's id (its ClientRequestToken), and createSecret writes that id
// into the new token's marker at Aiven: the current token itself says
// whether a break-glass rotation made it, so a request repeated after its
// deadline finishes that rotation's revocation instead of starting another.
const breakGlassVersionPrefix = "breakglass-"

// NewBreakGlassVersion is a fresh version id for a break-glass rotation:
// the prefix and a random (version 4) UUID, 47 characters, within the 32
// to 64 of a ClientRequestToken.
func NewBreakGlassVersion() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("a break-glass version id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return breakGlassVersionPrefix + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// IsBreakGlassVersion says whether a break-glass request started the
// rotation of version (NewBreakGlassVersion).
func IsBreakGlassVersion(version string) bool {
	return strings.HasPrefix(version, breakGlassVersionPrefix)
}

// CurrentMadeBy is the version whose rotation made the current token, as
// the token's marker says at Aiven (this secret's marker only); "" when
// the current token is not listed with it (a token put by hand).
func (in *Inspection) CurrentMadeBy() string {
	own := listedCurrent(in.Listing, in.v.Token)
	if own == nil {
		return ""
	}
	m, ok := secret.ParseMarker(own.Description)
	if !ok || m.Secret != secret.SecretHash(in.arn) {
		return ""
	}
	return m.Version
}

// PreviousRevocation is what RevokePreviousNow did with the previous token
// of the current value.
type PreviousRevocation struct {
	// Prefix is the previous token the grace record that counts names,
	// while Aiven lists it; "" when there is none (already revoked, or
	// never recorded).
	Prefix string
	// Revoked: this call revoked it.
	Revoked bool
	// Distrusted says why the value's record was not honoured: nothing was
	// revoked (GraceOf).
	Distrusted string
	// Waiting says why the revocation must wait (revocationMustWait):
	// nothing was revoked; the sweep revokes it once its grace ends, or a
	// later request once the wait is over.
	Waiting string
	// LastUse is Aiven's record of the previous token's last use, and
	// Straggler says it came after its replacement was made (GraceOf):
	// who still held it, a consumer not refreshed or a leak's user.
	LastUse   *LastUse
	Straggler bool
}

// RevokePreviousNow revokes the previous token of the current value, held
// by version currentVersion, now, whatever its grace: the token the grace
// record that counts names (GraceOf: the record the rotation that made the
// current token wrote, honoured only when that token is listed at Aiven
// with this secret's and that version's marker, previousUntrusted), never
// the current token, and only when revocationMustWait lets it. Run twice,
// the second finds the token gone and revokes nothing.
func (in *Inspection) RevokePreviousNow(ctx context.Context, currentVersion string) (PreviousRevocation, error) {
	g, err := in.GraceOf(ctx, currentVersion, time.Time{})
	if err != nil {
		return PreviousRevocation{}, err
	}
	out := PreviousRevocation{Prefix: g.Previous, Distrusted: g.Distrusted, Straggler: g.Straggler != nil}
	if g.Previous == "" {
		return out, nil
	}
	out.LastUse = lastUseOf(listedAs(in.Listing, g.Previous))
	why, err := in.r.revocationMustWait(ctx, in.arn, currentVersion)
	if err != nil {
		return out, fmt.Errorf("whether the previous token %s may go yet: %w", g.Previous, err)
	}
	if why != "" {
		out.Waiting = why
		return out, nil
	}
	revoked, err := in.Revoke(ctx, g.Previous)
	if err != nil {
		return out, fmt.Errorf("revoke the previous token %s: %w", g.Previous, err)
	}
	out.Revoked = revoked
	in.Listing = slices.DeleteFunc(slices.Clone(in.Listing), func(t aiven.Token) bool { return t.Prefix == g.Previous })
	return out, nil
}

// revocationMustWait says why the token that version replacingVersion of
// the secret secretARN replaced must not be revoked yet, or "" when it may
// be: the replica rule (replicaLag: no previous token is revoked before
// every replica region serves the replacing version as AWSCURRENT),
// which a break-glass request obeys like every other revocation. It
// describes the secret: one call, and one per replica. It only reads.
func (r *Rotator) revocationMustWait(ctx context.Context, secretARN, replacingVersion string) (why string, err error) {
	desc, err := r.store.Describe(ctx, secretARN)
	if err != nil {
		return "", fmt.Errorf("describe the secret for its replica regions: %w", err)
	}
	return r.replicaLag(ctx, desc, replacingVersion).Wait, nil
}

// OwnedSecret is one secret this function owns (its rotation function is
// this one), as the fleet read it for a break-glass request's named
// revocations.
type OwnedSecret struct {
	ARN string
	// Value is the AWSCURRENT SecretString; ReadErr says why it could not
	// be read ("" when it was).
	Value   string
	ReadErr string
	// LastRotated is when a rotation of it last completed (ListSecrets),
	// the floor of its previous token's grace (dueAt).
	LastRotated time.Time
	// Pending are the versions carrying AWSPENDING, as listed.
	Pending map[string]bool
}

// Protection is what keeps a named token from a break-glass revocation:
// every token some secret this function owns holds, keeps for its grace,
// or may be rotating to (Protect).
type Protection struct {
	kept    map[string]string // prefix → why it is kept
	owned   map[string]string // secret hash → ARN
	pending map[string]bool   // secret hash + " " + version, pending
	unread  []string          // owned secrets whose value is unknown, and why
}

// Protect is the protection of the tokens the owned secrets hold: each
// value's current token (its first 12 characters, and the stored
// token_prefix), anything else token-shaped in the value (a consumer may
// read it), and its previous token while the value's grace record runs.
// A secret whose value could not be read protects every token: it cannot
// be ruled out. It only reads the values given.
func (r *Rotator) Protect(owned []OwnedSecret) *Protection {
	p := &Protection{kept: map[string]string{}, owned: map[string]string{}, pending: map[string]bool{}}
	keep := func(prefix, why string) {
		if _, ok := p.kept[prefix]; !ok && prefix != "" {
			p.kept[prefix] = why
		}
	}
	for _, s := range owned {
		hash := secret.SecretHash(s.ARN)
		p.owned[hash] = s.ARN
		for v := range s.Pending {
			p.pending[hash+" "+v] = true
		}
		if s.ReadErr != "" {
			p.unread = append(p.unread, fmt.Sprintf("the current value of secret %s could not be read (%s)", s.ARN, s.ReadErr))
			continue
		}
		v, err := secret.Parse(s.Value)
		if err == nil {
			if t := v.Token.Reveal(); len(t) >= secret.PrefixLength {
				keep(t[:secret.PrefixLength], "it is the current token of secret "+s.ARN)
			}
			if storedPrefix(v) != "" {
				keep(v.TokenPrefix, "it is the current token of secret "+s.ARN)
			}
			if why := r.gracedBy(v, s.LastRotated); why != "" {
				keep(v.PreviousTokenPrefix, "it is the previous token of secret "+s.ARN+", "+why)
			}
		}
		for _, text := range valueStrings(s.Value) {
			for _, sp := range secret.TokenSpans(text) {
				if sp[1]-sp[0] >= secret.PrefixLength {
					keep(text[sp[0]:sp[0]+secret.PrefixLength], "it is a token in the current value of secret "+s.ARN)
				}
			}
		}
	}
	return p
}

// valueStrings are the texts a consumer may read a token from in a
// secret's value: every string of it, keys included, JSON-decoded (an
// escape such as "\/", which some encoders write for every '/', would
// split a token's shape in the raw text), and the raw text itself.
func valueStrings(raw string) []string {
	out := []string{raw}
	var v any
	if json.Unmarshal([]byte(raw), &v) != nil {
		return out
	}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			for k, e := range t {
				out = append(out, k)
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// ProtectManagers adds to p the token of each manager secret an owned
// application secret names: the function reads it, whether or not it
// rotates it, and a break-glass revocation of it would stop every
// application secret of the stack from rotating or healing. A manager
// that cannot be read (missing, refused, not this stack's) protects every
// token, as an unreadable owned value does: it cannot be ruled out. It
// only reads, each manager once.
func (r *Rotator) ProtectManagers(ctx context.Context, p *Protection, owned []OwnedSecret) {
	seen := map[string]bool{}
	for _, s := range owned {
		v, err := secret.Parse(s.Value)
		if s.ReadErr != "" || err != nil || v.Kind != secret.KindApplication || v.ManagerSecretID == "" || seen[v.ManagerSecretID] {
			continue
		}
		seen[v.ManagerSecretID] = true
		mv, err := r.readManager(ctx, s.ARN, v)
		if err != nil {
			p.unread = append(p.unread, fmt.Sprintf("manager secret %s, which secret %s names, could not be read (%s)", clip(v.ManagerSecretID, 2048), s.ARN, clip(scrub.String(err.Error()), 300)))
			continue
		}
		why := "it is the token of manager secret " + clip(v.ManagerSecretID, 2048) + ", which secret " + s.ARN + " names"
		if t := mv.Token.Reveal(); len(t) >= secret.PrefixLength {
			if _, ok := p.kept[t[:secret.PrefixLength]]; !ok {
				p.kept[t[:secret.PrefixLength]] = why
			}
		}
	}
}

// gracedBy says why the value's previous token is kept, or "" when it is
// not (its grace and the hard limit of a token kept while in use have
// ended: the sweep revokes it anyway). Past the grace it keeps the token
// up to the hard limit whether or not it is still in use, and without a
// grace record at all (finishSecret kept it for a replica region), since
// telling takes calls per secret: a refusal is the safe side. A record
// that does not parse keeps it.
func (r *Rotator) gracedBy(v *secret.Value, lastRotated time.Time) string {
	if checkPrefix(v.PreviousTokenPrefix) != nil {
		return ""
	}
	at, set, err := v.RevokeAfter()
	switch {
	case err != nil:
		return "named by a grace record that does not parse"
	case !set:
		// finishSecret revokes it at once, unless a replica region still
		// serves it (replicaLag) or its revocation failed: live, it is
		// kept for a reason only that secret's rules can judge.
		return "which no grace record ends: finishSecret keeps it while a replica region still serves it (revoke_previous on that secret ends it when its rules allow)"
	}
	grace, err := r.graceFor(v)
	if err != nil {
		return "named by a grace record whose grace does not parse"
	}
	limit, _, on, err := r.keepFor(v, grace)
	if err != nil {
		return "named by a grace record whose hard limit does not parse"
	}
	if !on {
		limit = grace
	}
	due := dueAt(at, lastRotated, grace)
	switch now := r.now(); {
	case now.Before(due):
		return "kept for its grace until " + due.UTC().Format(time.RFC3339) + " (revoke_previous ends it for that secret)"
	case now.Before(due.Add(limit - grace)):
		return "past its grace but kept while still in use, up to " + due.Add(limit-grace).UTC().Format(time.RFC3339) + " (PREVIOUS_TOKEN_MAX_GRACE; revoke_previous ends it for that secret)"
	}
	return ""
}

// LastUse is Aiven's record of a token's last use, as a break-glass
// request reports it.
type LastUse struct {
	At time.Time `json:"last_used_time"`
	// IP and UserAgent are text the token's user chose: clipped and
	// scrubbed of token shapes, as a straggler's are.
	IP        string `json:"last_ip,omitempty"`
	UserAgent string `json:"last_user_agent,omitempty"`
}

// lastUseOf is Aiven's record of t's last use; nil when it records none.
func lastUseOf(t *aiven.Token) *LastUse {
	if t == nil || t.LastUsed == nil {
		return nil
	}
	return &LastUse{At: t.LastUsed.UTC(), IP: scrub.String(clip(t.LastIP, 64)), UserAgent: scrub.String(clip(t.LastUserAgent, 256))}
}

// keeps says why the listed token t must not be revoked by name, or "".
// now is Aiven's clock, which dates t.
func (p *Protection) keeps(t aiven.Token, now time.Time) string {
	if t.CurrentlyActive {
		return "it is the token making this call: the secret's own current token"
	}
	if why, ok := p.kept[t.Prefix]; ok {
		return why
	}
	if m, ok := secret.ParseMarker(t.Description); ok {
		arn, ours := p.owned[m.Secret]
		switch {
		case !ours:
			return "it carries the marker of a secret this function does not rotate (another stack's, or a deleted secret's): revoke it by hand if it must go"
		case p.pending[m.Secret+" "+m.Version]:
			return "it was made by the rotation of secret " + arn + " in progress (version " + m.Version + ")"
		case youngerThan(t, staleAge, now):
			// ListSecrets may lag by minutes: a rotation it does not show
			// yet may be storing this token now.
			return "it was made by a rotation of secret " + arn + " less than an hour ago, which may still be in progress"
		}
	}
	if len(p.unread) > 0 {
		more := ""
		if len(p.unread) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(p.unread)-1)
		}
		return "it cannot be ruled out that a secret this function owns holds it: " + p.unread[0] + more
	}
	return ""
}

// Outcomes of one named prefix (NamedRevocation): revoked, found gone
// already, refused (with the reason), or failed (with the error).
const NamedRevoked, NamedGone, NamedRefused, NamedFailed = "revoked", "already_revoked", "refused", "failed"

// NamedRevocation is what RevokeNamed did with one prefix of a
// break-glass request's revoke_prefixes.
type NamedRevocation struct {
	// Prefix is the prefix as sent when it is prefix-shaped, else a
	// placeholder saying its length (it may be a whole token).
	Prefix  string `json:"prefix"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// LastUse is Aiven's record of a revoked token's last use: who held
	// the leaked token.
	LastUse *LastUse `json:"last_use,omitempty"`
}

// RevokeNamed revokes each of prefixes that is a live token of this
// secret's principal (Aiven's listing) and that p does not keep, and says
// for each what it did and why. A prefix not shaped as Aiven's is refused
// and never sent. Run twice, the second finds the revoked tokens no longer
// listed, and refuses them as such.
func (in *Inspection) RevokeNamed(ctx context.Context, prefixes []string, p *Protection) []NamedRevocation {
	out := make([]NamedRevocation, 0, len(prefixes))
	for _, prefix := range prefixes {
		r := refusedForShape(prefix)
		listed := listedAs(in.Listing, prefix)
		switch {
		case r.Reason != "":
		case listed == nil:
			r.Reason = "it is not among the live tokens of this secret's principal at Aiven: another user's token, or one already revoked"
		default:
			r.Reason = p.keeps(*listed, in.Now)
		}
		if r.Reason != "" {
			out = append(out, r)
			continue
		}
		revoked, err := in.Revoke(ctx, prefix)
		switch {
		case err != nil:
			r.Outcome, r.Reason = NamedFailed, in.Redact(err.Error())
		case !revoked:
			r.Outcome, r.Reason = NamedGone, "Aiven no longer knows it (404)"
		default:
			r.Outcome, r.LastUse = NamedRevoked, lastUseOf(listed)
			in.Listing = slices.DeleteFunc(slices.Clone(in.Listing), func(t aiven.Token) bool { return t.Prefix == prefix })
		}
		out = append(out, r)
	}
	return out
}

// RefuseNamed is the answer for prefixes when none may be revoked, for
// why: each refused, one not shaped as a prefix for its shape.
func RefuseNamed(prefixes []string, why string) []NamedRevocation {
	out := make([]NamedRevocation, 0, len(prefixes))
	for _, prefix := range prefixes {
		r := refusedForShape(prefix)
		if r.Reason == "" {
			r.Reason = why
		}
		out = append(out, r)
	}
	return out
}

// refusedForShape is prefix refused, with the reason when it is not shaped
// as an Aiven token prefix ("" when it is): such a prefix is never sent.
func refusedForShape(prefix string) NamedRevocation {
	r := NamedRevocation{Prefix: shownPrefix(prefix), Outcome: NamedRefused}
	if err := checkPrefix(prefix); err != nil {
		r.Reason = fmt.Sprintf("it %s; name a token by its first %d characters, never the token itself", err, secret.PrefixLength)
	}
	return r
}
