package rotation

// Application-user tokens (kind "application", docs/application-tokens.md).
// The token belongs to an application user of an organization and does
// not manage its own tokens: a manager does, whose token is the AWSCURRENT
// of another secret (manager_secret_id). The application's tokenAPI asks
// /v1/me with the application token itself, and lists, creates and
// revokes with the manager token, so createSecret never needs the current
// application token, and a dead one (401) is replaced all the same: the
// rotation heals it.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/smithy-go"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/aiven"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secretsmanager"
)

// ManagerTagKey is the tag key that marks a manager secret; its value
// must be this stack's (Config.ManagerTagValue, the stack's name), the same
// pair the role's ReadStackManagerSecrets statement requires. It is not
// the sweep's tag key (SWEEP_TAG_KEY): being swept never makes a secret a
// manager.
const ManagerTagKey = "aiven-token-rotator:manager"

// IsStackManager is the function's own test of a manager secret, by its
// tags: ManagerTagKey with the stack's value, exactly (IAM's StringEquals
// in template.yaml; internal/deploy proves the two agree). No stack value
// makes no manager.
func IsStackManager(tags map[string]string, stackValue string) bool {
	got, ok := tags[ManagerTagKey]
	return ok && stackValue != "" && got == stackValue
}

// tokenManager is what the manager's side of an application token does:
// the application user's tokens, listed, created and revoked with the
// manager token.
type tokenManager interface {
	ListTokens(ctx context.Context) ([]aiven.Token, error)
	CreateToken(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error)
	RevokeToken(ctx context.Context, prefix string) (revoked bool, err error)
}

var _ tokenManager = (*aiven.ApplicationTokens)(nil)

// managerFor opens application user u's tokens at baseURL with a
// manager's token. It must fail, having sent nothing, when the
// configuration forbids baseURL.
type managerFor func(baseURL string, managerToken secret.Token, u aiven.ApplicationUser) (tokenManager, error)

// checkApplicationFields names the first field an application secret
// lacks.
func checkApplicationFields(v *secret.Value) error {
	for _, f := range []struct{ name, value string }{
		{"organization_id", v.OrganizationID},
		{"application_user_id", v.ApplicationUserID},
		{"manager_secret_id", v.ManagerSecretID},
	} {
		if strings.TrimSpace(f.value) == "" {
			return &secret.FieldError{Field: f.name, Reason: `is required for kind "application"`}
		}
	}
	return nil
}

func applicationUser(v *secret.Value) aiven.ApplicationUser {
	return aiven.ApplicationUser{OrganizationID: v.OrganizationID, UserID: v.ApplicationUserID}
}

type applicationKind struct{}

// check: the ids reach Aiven URL paths and a SecretId, so their shape is
// checked before any call is made with them.
func (applicationKind) check(v *secret.Value) error {
	if err := checkApplicationFields(v); err != nil {
		return err
	}
	return v.CheckApplicationIDs()
}

func (applicationKind) open(r *Rotator, base, secretARN string, v *secret.Value, hold func(secret.Token)) (tokenAPI, error) {
	return r.openApplication(base, secretARN, v, hold)
}

// principal: the manager's token makes the calls. One manager named by
// its ARN in one value and by its name in another is still one.
func (applicationKind) principal(v *secret.Value, secretARN string) string {
	id := v.ManagerSecretID
	if id == "" {
		return "secret:" + secretARN
	}
	if name := secret.NameFromARN(id); strings.HasPrefix(id, "arn:") && name != "" {
		id = name
	}
	return "manager:" + id
}

// applicationAPI is the tokenAPI of an application token. Me is the
// application token's own; the token calls are the manager's, opened on
// the first of them (testSecret never reads the manager secret).
type applicationAPI struct {
	self userAPI // the application token: Me only
	r    *Rotator
	open func(ctx context.Context) (tokenManager, error)
	now  func() time.Time

	manager tokenManager // once opened
	// bound is the manager's binding of this user to the secret, once
	// opened: the ceiling of a healed token's restrictions.
	bound *secret.Binding
}

var _ tokenAPI = (*applicationAPI)(nil)

func (a *applicationAPI) Me(ctx context.Context) (aiven.User, error) { return a.self.Me(ctx) }

// ServerTime is Aiven's clock, from the manager's answers (which list the
// tokens the sweep ages) or else the application token's own.
func (a *applicationAPI) ServerTime() (time.Time, bool) {
	if t, ok := clockOf(a.manager); ok {
		return t, true
	}
	return clockOf(a.self)
}

func (a *applicationAPI) tokens(ctx context.Context) (tokenManager, error) {
	if a.manager == nil {
		m, err := a.open(ctx)
		if err != nil {
			return nil, err
		}
		a.manager = m
	}
	return a.manager, nil
}

func (a *applicationAPI) ListTokens(ctx context.Context) ([]aiven.Token, error) {
	m, err := a.tokens(ctx)
	if err != nil {
		return nil, err
	}
	return m.ListTokens(ctx)
}

// CreateToken creates the application token. Aiven's answer carries the
// token and its prefix only, so the creation time recorded is the moment
// before the request, and the expiry derived from it is never later than
// Aiven's.
func (a *applicationAPI) CreateToken(ctx context.Context, r aiven.CreateRequest) (aiven.NewToken, error) {
	m, err := a.tokens(ctx)
	if err != nil {
		return aiven.NewToken{}, err
	}
	asked := a.now().UTC().Truncate(time.Second)
	created, err := m.CreateToken(ctx, r)
	if err != nil {
		return created, err
	}
	if created.CreateTime.IsZero() {
		created.CreateTime = asked
	}
	if created.ExpiryTime == nil && r.MaxAgeSeconds != nil {
		expiry := asked.Add(time.Duration(*r.MaxAgeSeconds) * time.Second)
		created.ExpiryTime = &expiry
	}
	return created, nil
}

func (a *applicationAPI) RevokeToken(ctx context.Context, prefix string) (bool, error) {
	m, err := a.tokens(ctx)
	if err != nil {
		return false, err
	}
	return m.RevokeToken(ctx, prefix)
}

// openApplication is openAiven for an application token of the secret
// secretARN, at base (the secret's api_url, already checked): one Aiven
// serves both tokens. hold receives the manager token once read, for
// redaction. The manager is opened only for an application user that the
// manager secret binds to secretARN (boundManager): the application
// secret's value names the user, and its writer is not trusted to choose.
func (r *Rotator) openApplication(base, secretARN string, v *secret.Value, hold func(secret.Token)) (tokenAPI, error) {
	self, err := r.aivenAt(base, v.Token)
	if err != nil {
		return nil, err
	}
	a := &applicationAPI{self: self, r: r, now: r.now}
	a.open = func(ctx context.Context) (tokenManager, error) {
		mv, bound, err := r.boundManager(ctx, secretARN, v)
		if err != nil {
			return nil, err
		}
		hold(mv.Token)
		// The manager's token goes only to the API its own secret names
		// (its api_url, else the function's): the application secret's
		// writer must not choose where an admin's token is sent.
		mbase := r.cfg.DefaultAPIURL
		if mv.APIURL != "" {
			mbase = mv.APIURL
		}
		mu, err := r.cfg.policy().CheckBaseURL(mbase)
		if err != nil {
			return nil, fmt.Errorf("manager secret %s (manager_secret_id): api_url: %w", v.ManagerSecretID, err)
		}
		if mu.String() != base {
			return nil, fmt.Errorf("the application secret's api_url is not its manager's: the manager secret %s names %s, the application secret %s; the manager's token is sent only to its own API: set the same api_url in both, or in neither", v.ManagerSecretID, mu.Host, hostOf(base))
		}
		if r.managerAt == nil {
			return nil, errors.New("application tokens: this rotator has no manager client")
		}
		m, err := r.managerAt(base, mv.Token, applicationUser(v))
		if err != nil {
			return nil, fmt.Errorf("api_url: %w", err)
		}
		a.bound = bound
		return explainingManager{inner: m, managerID: v.ManagerSecretID, user: applicationUser(v)}, nil
	}
	return a, nil
}

// boundManager is the manager secret's value, once it proves to be this
// stack's manager (readManager) and to bind v's application user to the
// secret secretARN (its application_tokens). It only reads.
func (r *Rotator) boundManager(ctx context.Context, secretARN string, v *secret.Value) (*secret.Value, *secret.Binding, error) {
	mv, err := r.readManager(ctx, secretARN, v)
	if err != nil {
		return nil, nil, err
	}
	bindings, err := mv.Bindings()
	if err != nil {
		return nil, nil, fmt.Errorf("manager secret %s (manager_secret_id): AWSCURRENT: %w", v.ManagerSecretID, err)
	}
	name := secret.NameFromARN(secretARN)
	bound := secret.Binds(bindings, v.OrganizationID, v.ApplicationUserID, secretARN, name)
	if bound == nil {
		return nil, nil, unboundError(v, secretARN, name, bindings != nil)
	}
	return mv, bound, nil
}

// unboundError says that the manager secret does not bind the application
// user to the secret, and shows the entry its owner would add.
func unboundError(v *secret.Value, secretARN, name string, hasBindings bool) error {
	entry, _ := json.Marshal(secret.Binding{OrganizationID: v.OrganizationID, ApplicationUserID: v.ApplicationUserID, Secrets: []string{cmp.Or(name, secretARN)}})
	how := fmt.Sprintf(`add {"%s": [%s]} to its JSON value (a plain-string manager secret becomes {"token": "<its token>", "%s": [...]})`, secret.FieldApplicationTokens, entry, secret.FieldApplicationTokens)
	if hasBindings {
		how = fmt.Sprintf("add %s to its %s", entry, secret.FieldApplicationTokens)
	}
	return &bindingError{msg: fmt.Sprintf("manager secret %s (manager_secret_id) does not bind application user %s of organization %s to secret %s, so no token of that user is created, proven or revoked for it: the manager secret's owner decides which secrets hold which application user's tokens; if this secret is meant to hold them, %s (docs/application-tokens.md, \"The binding\")",
		v.ManagerSecretID, v.ApplicationUserID, v.OrganizationID, cmp.Or(name, secretARN), how)}
}

// bindingError is a refused binding: the sweep reports it as the
// secret's error, never heals past it.
type bindingError struct{ msg string }

func (e *bindingError) Error() string { return e.msg }

// readManager reads the manager token: the AWSCURRENT of the secret v
// names by manager_secret_id, which must not be secretARN itself and must
// carry this stack's manager tag. It only reads: calling it twice is
// harmless.
func (r *Rotator) readManager(ctx context.Context, secretARN string, v *secret.Value) (*secret.Value, error) {
	id := v.ManagerSecretID
	if r.cfg.ManagerTagValue == "" {
		return nil, fmt.Errorf("application tokens need a manager secret, and this function accepts none: MANAGER_TAG_VALUE is not set (template.yaml sets it to the stack's name)")
	}
	// A sweep reads each manager once, whatever the secrets it manages.
	md, raw, err := readOnce(ctx, id, func() (secretsmanager.Description, string, error) {
		md, err := r.store.Describe(ctx, id)
		if err != nil {
			return md, "", managerReadError(id, err)
		}
		if !IsStackManager(md.Tags, r.cfg.ManagerTagValue) {
			return md, "", nil // refused below, without reading the value
		}
		raw, err := r.store.GetValue(ctx, md.ARN, "", secretsmanager.StageCurrent)
		if err != nil {
			return md, "", managerReadError(id, err)
		}
		return md, raw, nil
	})
	if err != nil {
		return nil, err
	}
	if md.ARN == secretARN {
		return nil, &secret.FieldError{Field: "manager_secret_id", Reason: "names this secret itself: an application token cannot manage its own tokens; name the secret that holds the manager's token"}
	}
	// Only a secret its owner tagged as this stack's manager is one. IAM
	// enforces the same pair for secrets this function does not rotate;
	// checking it here as well keeps a secret it does rotate (another
	// team's admin token, a swept secret) from being lent out by anyone
	// who can write an application secret.
	if !IsStackManager(md.Tags, r.cfg.ManagerTagValue) {
		return nil, fmt.Errorf("manager secret %s (manager_secret_id) is not tagged as a manager of this stack: it needs the tag %s=%s (aws secretsmanager tag-resource --secret-id %s --tags Key=%s,Value=%s); the sweep's tag key aiven-token-rotator makes no secret a manager",
			id, ManagerTagKey, r.cfg.ManagerTagValue, id, ManagerTagKey, r.cfg.ManagerTagValue)
	}
	mv, err := secret.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("manager secret %s (manager_secret_id): AWSCURRENT: %w", id, err)
	}
	return mv, nil
}

// managerReadError says why the manager secret could not be read, and
// what to do about it.
func managerReadError(id string, err error) error {
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch {
	case hasNoValue(err), code == "ResourceNotFoundException":
		return fmt.Errorf("manager secret %s (manager_secret_id) not found in this account and region, or it has no AWSCURRENT value: %w", id, err)
	case code == "AccessDeniedException":
		return fmt.Errorf("manager secret %s (manager_secret_id): the function's role may not read it (AccessDeniedException): tag it %s=<this stack's name>, which the role's ReadStackManagerSecrets statement requires: %w", id, ManagerTagKey, err)
	case strings.HasPrefix(code, "KMS"), code == "DecryptionFailure":
		return fmt.Errorf("manager secret %s (manager_secret_id): its KMS key refused the function's role (%s): store it with aws/secretsmanager, or allow the role kms:Decrypt for it: %w", id, code, err)
	}
	return fmt.Errorf("read the manager secret %s (manager_secret_id): %w", id, err)
}

// explainingManager turns the errors of the manager's calls into messages
// that name the manager secret, the application user and the missing
// right, so that the steps' shared code need not know whose token made
// the call (explainAiven leaves an explainedError as it is).
type explainingManager struct {
	inner     tokenManager
	managerID string
	user      aiven.ApplicationUser
}

var _ tokenManager = explainingManager{}

// ServerTime is Aiven's clock as the manager's answers gave it.
func (m explainingManager) ServerTime() (time.Time, bool) {
	if c, ok := m.inner.(serverClock); ok {
		return c.ServerTime()
	}
	return time.Time{}, false
}

func (m explainingManager) ListTokens(ctx context.Context) ([]aiven.Token, error) {
	t, err := m.inner.ListTokens(ctx)
	return t, m.explain(err, "list")
}

func (m explainingManager) CreateToken(ctx context.Context, req aiven.CreateRequest) (aiven.NewToken, error) {
	t, err := m.inner.CreateToken(ctx, req)
	return t, m.explain(err, "create")
}

func (m explainingManager) RevokeToken(ctx context.Context, prefix string) (bool, error) {
	ok, err := m.inner.RevokeToken(ctx, prefix)
	return ok, m.explain(err, "delete")
}

func (m explainingManager) explain(err error, op string) error {
	var msg string
	switch {
	case err == nil:
		return nil
	case aiven.IsUnauthorized(err):
		msg = fmt.Sprintf("the Aiven API rejected the manager token of secret %s (401): it was revoked, has expired, or was invalidated; put a valid token in the manager secret (or rotate it, if this function rotates it) and rotate again", m.managerID)
	case aiven.IsForbidden(err):
		msg = fmt.Sprintf("the manager token of secret %s may not %s the tokens of %s (403): it needs role:organization:admin in organization %s, or organization:app_users:write when the application user holds no permissions; if the manager token is restricted by scopes, allow the application-user token calls", m.managerID, op, m.user, m.user.OrganizationID)
	case aiven.IsNotFound(err) && op != "delete": // a delete's 404: already gone
		msg = fmt.Sprintf("organization %s or its application user %s not found (404): check organization_id and application_user_id", m.user.OrganizationID, m.user.UserID)
	default:
		return err
	}
	return &explainedError{msg: msg, err: err}
}

// previous is previousToken for an application token: the
// current token is the listed one whose prefix begins it (no listed token
// is the caller's: the manager lists). Not listed, the current token is
// asked who it is: a 401 is a dead token that this rotation heals (it is
// revoked by its stored prefix if one begins it: already gone is fine);
// another principal means the secret holds a token of the wrong kind; the
// application user itself is handled as previousToken does.
func (a *applicationAPI) previous(ctx context.Context, current *secret.Value, tokens []aiven.Token, at where) (previous, error) {
	r, secretARN := a.r, at.secretARN
	var begins []*aiven.Token
	for i := range tokens {
		if checkPrefix(tokens[i].Prefix) == nil && current.Token.HasPrefix(tokens[i].Prefix) {
			begins = append(begins, &tokens[i])
		}
	}
	// A listed token that begins the current one and carries this
	// secret's marker is the rotator's own: it is the current token. An
	// unmarked one is proven by /v1/me first (the manager's listing marks
	// no caller): a value put by hand could begin with another pipeline's
	// prefix, and that token must not be revoked on its say-so.
	var listed *aiven.Token
	if len(begins) == 1 {
		if m, ok := secret.ParseMarker(begins[0].Description); ok && m.Secret == secret.SecretHash(secretARN) {
			return r.previousToken(ctx, current, []aiven.Token{*begins[0]}, at), nil
		}
		listed = begins[0]
	}
	me, err := a.Me(ctx)
	switch {
	case aiven.IsUnauthorized(err) && listed != nil:
		// A live token has the prefix, yet the current token is dead: it
		// is not that token, which is left alone.
		var p previous
		p.dead = true
		p.notes = append(p.notes, fmt.Sprintf("the current application token no longer authenticates (401), and the live token %s that its first characters name is another token, left alone: the manager token replaces the dead one; this rotation heals the secret", listed.Prefix))
		r.log.WarnContext(ctx, "healing: the current application token is dead and is not the live token its prefix names, which is left alone",
			"step", at.step, "secret", secretARN, "version", at.version, "listed_token_prefix", listed.Prefix, "outcome", "healing")
		return p, nil
	case err == nil && listed != nil && me.UserID == current.ApplicationUserID:
		return r.previousToken(ctx, current, []aiven.Token{*listed}, at), nil
	case aiven.IsUnauthorized(err):
		var p previous
		p.prefix = storedPrefix(current)
		p.dead = true
		p.notes = append(p.notes, "the current application token no longer authenticates (401: revoked, expired or invalidated): the manager token replaces it; this rotation heals the secret")
		r.log.WarnContext(ctx, "healing: the current application token is dead; the manager token replaces it",
			"step", at.step, "secret", secretARN, "version", at.version, "previous_token_prefix", p.prefix, "outcome", "healing")
		return p, nil
	case err != nil:
		return previous{}, fmt.Errorf("ask Aiven whose the current token is (it is not among the tokens of %s): %w", applicationUser(current), err)
	case me.UserID != current.ApplicationUserID:
		return previous{}, &secret.FieldError{Field: "kind", Reason: fmt.Sprintf(`is "application", but the token authenticates as %s (user id %s), not as application user %s: it looks like a personal token; set "kind": "personal", or store the application user's token`, me.Email, me.UserID, current.ApplicationUserID)}
	}
	return r.previousToken(ctx, current, nil, at), nil
}

// principal: the secret's application user. The current token is not
// asked: the manager makes the new one even when the current one is dead.
func (a *applicationAPI) principal(_ context.Context, current *secret.Value) (aiven.User, error) {
	return aiven.User{Email: current.User, UserID: current.ApplicationUserID}, nil
}

// provePending: the listing is the manager's, so it proves nothing of the
// pending token by succeeding; the token must be among its user's live
// tokens (a revoked one is not).
func (a *applicationAPI) provePending(v *secret.Value, tokens []aiven.Token, now time.Time) error {
	own := listedAs(tokens, v.TokenPrefix)
	if own == nil || own.ExpiryTime != nil && !own.ExpiryTime.After(now) {
		return fmt.Errorf("the pending token %s is not a live token of the application user at Aiven: it was revoked or has expired since testSecret; AWSCURRENT was not moved: remove the AWSPENDING label from this version (aws secretsmanager update-secret-version-stage --version-stage AWSPENDING --remove-from-version-id <version>) and rotate again", v.TokenPrefix)
	}
	return nil
}

// testCurrent is the configuration test of an application token: the
// current token authenticates as the application user, and the manager
// may list its tokens (so that a rotation could replace it).
func (a *applicationAPI) testCurrent(ctx context.Context, current *secret.Value) ([]aiven.Token, error) {
	me, err := a.Me(ctx)
	switch {
	case aiven.IsUnauthorized(err):
		return nil, fmt.Errorf("the Aiven API rejected the current application token (401): it was revoked, has expired or was invalidated; rotate the secret, and the manager token replaces it: %w", err)
	case err != nil:
		return nil, explainAiven(err, currentToken, "me")
	case me.UserID != current.ApplicationUserID:
		return nil, fmt.Errorf("the current token belongs to user id %q (%s), not to application user %s", me.UserID, me.Email, current.ApplicationUserID)
	}
	return a.ListTokens(ctx)
}

// health: the application token proves itself with /v1/me (its listing
// is the manager's). A dead one is healable only for a user the manager
// binds to this secret: the rotation would refuse any other.
func (a *applicationAPI) health(ctx context.Context) health {
	_, err := a.Me(ctx)
	switch {
	case aiven.IsUnauthorized(err):
		h := health{dead: explainAiven(err, currentToken, "me")}
		if _, err := a.tokens(ctx); err != nil {
			h.healable = err
		}
		return h
	case err != nil:
		return health{err: fmt.Errorf("ask /v1/me: %w", explainAiven(err, currentToken, "me"))}
	}
	return health{}
}

func (a *applicationAPI) listedBySelf() bool { return false }

func (a *applicationAPI) binding() *secret.Binding { return a.bound }

// hostOf is the host of a checked base URL, for an error.
func hostOf(base string) string {
	if u, err := url.Parse(base); err == nil {
		return u.Host
	}
	return "an unreadable URL"
}
