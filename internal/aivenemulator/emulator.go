// Package aivenemulator is an in-memory emulator of the part of the Aiven
// API the rotator uses: personal and application-user access tokens and
// /v1/me, with Aiven's paths, status codes, bodies and error bodies
// (docs/local-stack-aiven.md), a controllable clock, fault plans and call counts.
//
// Where Aiven's behaviour is not documented the emulator picks the
// strictest plausible answer and says so in a comment marked "inferred".
package aivenemulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

const (
	tokenLength        = 372 // characters of standard base64
	prefixLength       = 12
	maxPersonalTokens  = 10
	maxDescription     = 1000
	minMaxAgeSeconds   = 600
	maxMaxAgeSeconds   = 315360000
	maxListItems       = 100
	defaultPersonalAge = 30 * 24 * time.Hour
)

// Permissions that let a member manage application users' tokens.
const (
	RoleOrganizationAdmin  = "role:organization:admin"
	PermissionAppUserWrite = "organization:app_users:write"
)

// User is a person with a personal token, as the control API returns it.
type User struct {
	UserID      string `json:"user_id"`
	Email       string `json:"email"`
	Token       string `json:"token"`
	TokenPrefix string `json:"token_prefix"`
}

// ApplicationUser is an organization's machine user.
type ApplicationUser struct {
	UserID         string   `json:"user_id"`
	OrganizationID string   `json:"organization_id"`
	Name           string   `json:"name"`
	Email          string   `json:"email"`
	Permissions    []string `json:"permissions"`
}

// TokenRecord is the control API's view of a token: never its value.
type TokenRecord struct {
	User        string     `json:"user"`
	TokenPrefix string     `json:"token_prefix"`
	Description string     `json:"description"`
	State       string     `json:"state"`
	CreateTime  time.Time  `json:"create_time"`
	ExpiryTime  *time.Time `json:"expiry_time,omitempty"`
}

type principal struct {
	id          string
	email       string
	realName    string
	application bool
	orgID       string   // application users: their organization; people: the one they belong to
	permissions []string // organization permissions
	managed     bool     // a person the organization manages (a verified domain's user)
	created     time.Time
	tokensSince time.Time
	// maybeLive holds the principal's tokens not yet seen dead, in issue
	// order. A token never comes back to life (the clock only moves
	// forward, revocation is final), so counting and listing prune it and
	// stay proportional to the live tokens, not to every token ever issued.
	maybeLive []*token
}

type token struct {
	full           string
	prefix         string
	owner          *principal
	description    string
	createTime     time.Time
	maxAge         time.Duration // 0: never expires
	extendWhenUsed bool
	expiry         time.Time // zero: never
	scopes         []string
	ipAllowlist    []string
	manual         bool
	revoked        bool
	// authMethod is the login method a personal token was made with
	// (AuthMethodPassword, ...), inherited by the tokens it makes: "Tokens
	// are linked to the authentication method they are created with."
	authMethod    string
	lastUsed      time.Time
	lastIP        string
	lastUserAgent string
}

func (t *token) state(now time.Time) string {
	switch {
	case t.revoked:
		return "revoked"
	case t.owner.tokensSince.After(t.createTime):
		return "revoked"
	case !t.expiry.IsZero() && !now.Before(t.expiry):
		return "expired"
	}
	return "live"
}

// Emulator is the Aiven API emulator. It is an http.Handler and safe for
// concurrent use.
type Emulator struct {
	mu         sync.Mutex
	offset     time.Duration
	users      map[string]*principal // by id
	tokens     []*token              // every token ever issued, in order
	byValue    map[string]*token
	byPrefix   map[string]*token
	issued     int
	newToken   func(n int) string
	plan       faults.Plan
	limiter    rateLimiter // per-token rate limit, off unless set
	log        *slog.Logger
	wallClock  func() time.Time
	nextUserID int
	orgs       map[string]*organization // by id (organizations.go)
}

// Option configures an Emulator.
type Option func(*Emulator)

// WithLogger logs one line per request: operation, status, latency.
func WithLogger(l *slog.Logger) Option { return func(e *Emulator) { e.log = l } }

// WithClock starts the emulator's clock at start instead of now.
func WithClock(start time.Time) Option {
	return func(e *Emulator) { e.offset = time.Until(start) }
}

// withTokenSource replaces the token generator (tests craft prefixes).
func withTokenSource(f func(n int) string) Option { return func(e *Emulator) { e.newToken = f } }

// New returns an empty emulator.
func New(opts ...Option) *Emulator {
	e := &Emulator{
		users:     map[string]*principal{},
		byValue:   map[string]*token{},
		byPrefix:  map[string]*token{},
		wallClock: time.Now,
		orgs:      map[string]*organization{},
	}
	e.newToken = randomToken
	for _, o := range opts {
		o(e)
	}
	return e
}

// Faults is the emulator's fault plan and call counter.
func (e *Emulator) Faults() *faults.Plan { return &e.plan }

// Now is the emulator's clock.
func (e *Emulator) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now()
}

func (e *Emulator) now() time.Time { return e.wallClock().Add(e.offset).UTC() }

// Advance moves the clock forward; tokens expire as it passes them.
func (e *Emulator) Advance(d time.Duration) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offset += d
	return e.now()
}

// randomToken is 372 characters of standard base64 from crypto/rand.
// Real prefixes hold '+' or '/' about one time in six; every third token
// here is forced to hold one within its prefix, so escaping bugs show
// quickly rather than now and then. Every fourth token is padded, ending
// in "==" as Aiven's published example token does ("...RaraBPg=="), so a
// full token in a path (revoke accepts one) carries '=' too: 277 random
// bytes encode as 370 characters and "==".
func randomToken(n int) string {
	size := tokenLength * 3 / 4 // 279 bytes, no padding
	if n%4 == 0 {
		size = tokenLength*3/4 - 2
	}
	raw := make([]byte, size)
	if _, err := rand.Read(raw); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	tok := []byte(base64.StdEncoding.EncodeToString(raw))
	if n%3 == 0 && !strings.ContainsAny(string(tok[:prefixLength]), "+/") {
		tok[1+n%(prefixLength-1)] = "+/"[n%2]
	}
	return string(tok)
}

// issue makes a token for owner. Callers hold e.mu.
func (e *Emulator) issue(owner *principal, description string, maxAge time.Duration, extend bool, scopes, ipAllow []string) *token {
	var full string
	for {
		e.issued++
		full = e.newToken(e.issued)
		if _, taken := e.byPrefix[full[:prefixLength]]; !taken {
			break
		}
	}
	now := e.now()
	t := &token{
		full: full, prefix: full[:prefixLength], owner: owner, description: description,
		createTime: now, maxAge: maxAge, extendWhenUsed: extend,
		scopes: scopes, ipAllowlist: ipAllow, manual: true,
	}
	if maxAge > 0 {
		t.expiry = now.Add(maxAge)
	}
	e.tokens = append(e.tokens, t)
	owner.maybeLive = append(owner.maybeLive, t)
	e.byValue[full] = t
	e.byPrefix[t.prefix] = t
	return t
}

// CreateUser adds a person with one personal token (30 days, like a token
// made in the console without a maximum age).
func (e *Emulator) CreateUser(email string) (User, error) {
	return e.createUser(email, "", nil)
}

// UserSpec describes a person for CreateUserWith.
type UserSpec struct {
	Email          string
	OrganizationID string   // "" for none
	Permissions    []string // in OrganizationID
	// Managed: the organization manages the user (its domain is verified):
	// while its policy turns personal tokens off, the user cannot create any.
	Managed bool
	// AuthMethod is the login method the user's first personal token was
	// made with: AuthMethodPassword (the default), AuthMethodOAuth or
	// AuthMethodSAML.
	AuthMethod string
}

// CreateUserWith adds a person as spec says, with one personal token as
// CreateUser gives. The control API's POST /_emulator/users does the same.
func (e *Emulator) CreateUserWith(spec UserSpec) (User, error) {
	switch spec.AuthMethod {
	case "":
		spec.AuthMethod = AuthMethodPassword
	case AuthMethodPassword, AuthMethodOAuth, AuthMethodSAML:
	default:
		return User{}, fmt.Errorf("auth_method %q is none of %s, %s, %s", spec.AuthMethod, AuthMethodPassword, AuthMethodOAuth, AuthMethodSAML)
	}
	if spec.Managed && spec.OrganizationID == "" {
		return User{}, fmt.Errorf("a managed user needs the organization_id that manages it")
	}
	return e.newUser(spec)
}

// CreateMember adds a person of organization orgID holding permissions
// (RoleOrganizationAdmin, PermissionAppUserWrite), with one personal token
// as CreateUser gives: the manager of application users' tokens. The
// control API's POST /_emulator/users with organization_id does the same.
func (e *Emulator) CreateMember(email, orgID string, permissions []string) (User, error) {
	if orgID == "" {
		return User{}, fmt.Errorf("organization_id is required")
	}
	return e.createUser(email, orgID, permissions)
}

func (e *Emulator) createUser(email, orgID string, permissions []string) (User, error) {
	return e.newUser(UserSpec{Email: email, OrganizationID: orgID, Permissions: permissions, AuthMethod: AuthMethodPassword})
}

func (e *Emulator) newUser(spec UserSpec) (User, error) {
	email, orgID, permissions := spec.Email, spec.OrganizationID, spec.Permissions
	if !strings.Contains(email, "@") {
		return User{}, fmt.Errorf("email %q is not an e-mail address", email)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range e.users {
		if strings.EqualFold(u.email, email) {
			return User{}, fmt.Errorf("a user with email %q exists", email)
		}
	}
	e.nextUserID++
	p := &principal{
		id: fmt.Sprintf("u%08x", 0x2a000000+e.nextUserID), email: email,
		realName: strings.Split(email, "@")[0], orgID: orgID, permissions: permissions, created: e.now(),
		managed: spec.Managed,
	}
	e.users[p.id] = p
	if orgID != "" {
		e.ensureOrg(orgID)
	}
	t := e.issue(p, "console token", defaultPersonalAge, false, nil, nil)
	t.authMethod = spec.AuthMethod
	return User{UserID: p.id, Email: email, Token: t.full, TokenPrefix: t.prefix}, nil
}

// CreateApplicationUser adds an organization's application user, with no
// token: its tokens are made through the API by an organization admin.
func (e *Emulator) CreateApplicationUser(orgID, name string, permissions []string) (ApplicationUser, error) {
	if orgID == "" || name == "" {
		return ApplicationUser{}, fmt.Errorf("organization_id and name are required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.newApplicationUser(orgID, name, permissions)
	return ApplicationUser{UserID: p.id, OrganizationID: orgID, Name: name, Email: p.email, Permissions: nonNil(permissions)}, nil
}

// newApplicationUser adds an application user. Callers hold e.mu.
func (e *Emulator) newApplicationUser(orgID, name string, permissions []string) *principal {
	e.nextUserID++
	p := &principal{
		id: fmt.Sprintf("u%08x", 0x2a000000+e.nextUserID), realName: name, application: true,
		orgID: orgID, permissions: permissions, created: e.now(),
	}
	p.email = fmt.Sprintf("%s@application-users.%s.aiven.io", p.id, orgID)
	e.users[p.id] = p
	e.ensureOrg(orgID)
	return p
}

// Tokens lists every token ever issued, without values.
func (e *Emulator) Tokens() []TokenRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	out := make([]TokenRecord, 0, len(e.tokens))
	for _, t := range e.tokens {
		r := TokenRecord{User: t.owner.email, TokenPrefix: t.prefix, Description: t.description, State: t.state(now), CreateTime: t.createTime}
		if !t.expiry.IsZero() {
			exp := t.expiry
			r.ExpiryTime = &exp
		}
		out = append(out, r)
	}
	return out
}

// Authenticates reports whether Aiven would accept token now, without
// counting a call or touching its last use.
func (e *Emulator) Authenticates(token string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.byValue[token]
	return ok && t.state(e.now()) == "live"
}

// ServeHTTP routes the API under /v1 and the control API under /_emulator.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.serveControl(w, r)
		return
	}
	start := time.Now()
	// Every HTTP server dates its answers (RFC 9110, 6.6.1); this one by
	// its own clock, so that a client reckoning expiry by the server's
	// time sees Advance as it would see a real day pass.
	w.Header().Set("Date", e.Now().Format(http.TimeFormat))
	rec := &statusRecorder{ResponseWriter: w}
	op := e.serveAPI(rec, r)
	if e.log != nil {
		e.log.Info("request", "operation", op, "status", rec.status(), "latency_ms", float64(time.Since(start).Microseconds())/1000)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) status() int { return s.code }

// Unwrap lets http.ResponseController reach the connection (drop faults).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
