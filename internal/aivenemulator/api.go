package aivenemulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/faults"
)

// Operation ids, as Aiven's OpenAPI document names them.
const (
	opAccessTokenCreate        = "AccessTokenCreate"
	opAccessTokenList          = "AccessTokenList"
	opAccessTokenUpdate        = "AccessTokenUpdate"
	opAccessTokenRevoke        = "AccessTokenRevoke"
	opUserInfo                 = "UserInfo"
	opUserExpireTokens         = "UserExpireTokens"
	opAppUserAccessTokenCreate = "ApplicationUserAccessTokenCreate"
	opAppUserAccessTokensList  = "ApplicationUserAccessTokensList"
	opAppUserAccessTokenDelete = "ApplicationUserAccessTokenDelete"
	opAppUserCreate            = "ApplicationUserCreate"
	opAppUsersList             = "ApplicationUsersList"
	opAppUserGet               = "ApplicationUserGet"
	opAppUserUpdate            = "ApplicationUserUpdate"
	opAppUserDelete            = "ApplicationUserDelete"
	opOrganizationGet          = "OrganizationGet"
	opOrgAuthConfigGet         = "OrganizationAuthenticationConfigGet"
	opOrgAuthConfigUpdate      = "OrganizationAuthenticationConfigUpdate"
)

const msgExpired = "Missing (expired) db token"

// msgRateLimit is the 429 a fault rule answers: the very body Aiven sent
// in aiven/terraform-provider-aiven#575.
var msgRateLimit = rateLimitMessage(120, 28)

// route is a matched API call: its operation and its path parameters,
// already unescaped.
type route struct {
	op          string
	orgID       string
	userID      string
	tokenPrefix string
}

// match routes on the escaped path so that "%2F" inside a parameter is not
// taken for a separator, and unescapes each parameter with PathUnescape,
// which keeps a literal '+' a plus (QueryUnescape would make it a space).
// A prefix sent with a literal '/' spreads over several segments; they are
// joined again, as the prefix is always the path's last parameter.
func match(method, escapedPath string) (route, int) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	if len(segs) < 2 || segs[0] != "v1" {
		return route{}, http.StatusNotFound
	}
	segs = segs[1:]
	unescape := func(parts []string) (string, bool) {
		s, err := url.PathUnescape(strings.Join(parts, "/"))
		return s, err == nil && s != ""
	}
	pick := func(byMethod map[string]string) (string, int) {
		if op, ok := byMethod[method]; ok {
			return op, 0
		}
		return "", http.StatusMethodNotAllowed
	}
	switch {
	case len(segs) == 1 && segs[0] == "access_token":
		op, code := pick(map[string]string{"POST": opAccessTokenCreate, "GET": opAccessTokenList})
		return route{op: op}, code
	case len(segs) >= 2 && segs[0] == "access_token":
		prefix, ok := unescape(segs[1:])
		if !ok {
			return route{}, http.StatusNotFound
		}
		op, code := pick(map[string]string{"PUT": opAccessTokenUpdate, "DELETE": opAccessTokenRevoke})
		return route{op: op, tokenPrefix: prefix}, code
	// The organization and its authentication configuration, as Aiven's
	// published OpenAPI document serves them (tag Organizations):
	// OrganizationGet, OrganizationAuthenticationConfigGet and ...Update.
	case len(segs) == 2 && segs[0] == "organization":
		org, ok := unescape(segs[1:2])
		if !ok {
			return route{}, http.StatusNotFound
		}
		op, code := pick(map[string]string{"GET": opOrganizationGet})
		return route{op: op, orgID: org}, code
	case len(segs) == 4 && segs[0] == "organization" && segs[2] == "config" && segs[3] == "authentication":
		org, ok := unescape(segs[1:2])
		if !ok {
			return route{}, http.StatusNotFound
		}
		op, code := pick(map[string]string{"GET": opOrgAuthConfigGet, "PATCH": opOrgAuthConfigUpdate})
		return route{op: op, orgID: org}, code
	case len(segs) == 1 && segs[0] == "me":
		op, code := pick(map[string]string{"GET": opUserInfo})
		return route{op: op}, code
	case len(segs) == 2 && segs[0] == "me" && segs[1] == "expire_tokens":
		op, code := pick(map[string]string{"POST": opUserExpireTokens})
		return route{op: op}, code
	// Application-user management, as Aiven's published OpenAPI document
	// (https://api.aiven.io/doc/openapi.json, tag Application_Users) serves
	// it: POST and GET /organization/{organization_id}/application-users,
	// GET, PATCH and DELETE .../application-users/{user_id}.
	case len(segs) == 3 && segs[0] == "organization" && segs[2] == "application-users":
		org, ok := unescape(segs[1:2])
		if !ok {
			return route{}, http.StatusNotFound
		}
		op, code := pick(map[string]string{"POST": opAppUserCreate, "GET": opAppUsersList})
		return route{op: op, orgID: org}, code
	case len(segs) == 4 && segs[0] == "organization" && segs[2] == "application-users":
		org, ok1 := unescape(segs[1:2])
		user, ok2 := unescape(segs[3:4])
		if !ok1 || !ok2 {
			return route{}, http.StatusNotFound
		}
		op, code := pick(map[string]string{"GET": opAppUserGet, "PATCH": opAppUserUpdate, "DELETE": opAppUserDelete})
		return route{op: op, orgID: org, userID: user}, code
	case len(segs) >= 5 && segs[0] == "organization" && segs[2] == "application-users" && segs[4] == "access-tokens":
		org, ok1 := unescape(segs[1:2])
		user, ok2 := unescape(segs[3:4])
		if !ok1 || !ok2 {
			return route{}, http.StatusNotFound
		}
		r := route{orgID: org, userID: user}
		if len(segs) == 5 {
			op, code := pick(map[string]string{"POST": opAppUserAccessTokenCreate, "GET": opAppUserAccessTokensList})
			r.op = op
			return r, code
		}
		prefix, ok := unescape(segs[5:])
		if !ok {
			return route{}, http.StatusNotFound
		}
		op, code := pick(map[string]string{"DELETE": opAppUserAccessTokenDelete})
		r.op, r.tokenPrefix = op, prefix
		return r, code
	}
	return route{}, http.StatusNotFound
}

// apiError is an error answer in Aiven's shape.
type apiError struct {
	status  int
	message string
	code    string // Aiven's error_code, where its schema names one
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeCodedError(w, status, message, "")
}

func writeCodedError(w http.ResponseWriter, status int, message, code string) {
	item := map[string]any{"message": message, "status": status}
	if code != "" {
		item["error_code"] = code
	}
	faults.WriteJSON(w, status, map[string]any{
		"message": message,
		"errors":  []map[string]any{item},
	})
}

// serveAPI answers one API call and returns its operation id for the log.
// Faults apply before anything else, so a failed call changes nothing.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) string {
	rt, code := match(r.Method, r.URL.EscapedPath())
	if code != 0 {
		if code == http.StatusMethodNotAllowed {
			writeError(w, code, "Method not allowed")
		} else {
			writeError(w, code, "Not found")
		}
		return "unknown"
	}
	if f, hit := e.plan.Observe(rt.op); hit {
		f.Wait(r)
		if f.Drop && faults.DropConnection(w) {
			return rt.op
		}
		if f.Status != 0 {
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			}
			msg := http.StatusText(f.Status)
			if f.Status == http.StatusTooManyRequests {
				msg = msgRateLimit
			}
			writeError(w, f.Status, msg)
			return rt.op
		}
	}

	body, bodyErr := readBody(r)

	e.mu.Lock()
	status, out, apiErr := e.call(rt, r, body, bodyErr)
	e.mu.Unlock()
	switch {
	case apiErr != nil:
		writeCodedError(w, apiErr.status, apiErr.message, apiErr.code)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		faults.WriteJSON(w, status, out)
	}
	return rt.op
}

func readBody(r *http.Request) (map[string]json.RawMessage, error) {
	if r.Body == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, 1<<20)); err != nil {
		return nil, fmt.Errorf("request body: %v", err)
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		return nil, fmt.Errorf("request body is not a JSON object")
	}
	return fields, nil
}

// call runs an operation. Callers hold e.mu. The caller is authenticated
// before its body is judged: a dead token with a broken body is a 401, not
// a 400 (inferred: authentication comes first in front of every API).
func (e *Emulator) call(rt route, r *http.Request, body map[string]json.RawMessage, bodyErr error) (int, any, *apiError) {
	// The rate limit comes first, in front of the API as a limiter is: a
	// refused call leaves no trace on the token (last use, expiry).
	now := e.now()
	if e.limiter.on() {
		if t := e.limitedToken(r, now); t != nil {
			if apiErr := e.limiter.rateLimit(t, now); apiErr != nil {
				return 0, nil, apiErr
			}
		}
	}
	caller, apiErr := e.authenticate(r)
	if apiErr != nil {
		return 0, nil, apiErr
	}
	if bodyErr != nil {
		return 0, nil, errorf(http.StatusBadRequest, "%s", bodyErr.Error())
	}
	if rt.orgID != "" {
		// Every call under /v1/organization/{organization_id}/ is the
		// organization's: its authentication policy judges a member's
		// personal token first (organizations.go).
		if apiErr := e.policyRefusal(caller, rt.orgID); apiErr != nil {
			return 0, nil, apiErr
		}
	}
	switch rt.op {
	case opAccessTokenCreate:
		if caller.owner.application {
			// Application users get tokens from an organization admin only (inferred).
			return 0, nil, errorf(http.StatusForbidden, "Application users cannot create personal access tokens")
		}
		req, apiErr := parseCreate(body, false)
		if apiErr != nil {
			return 0, nil, apiErr
		}
		if apiErr := e.mayCreatePersonalToken(caller.owner); apiErr != nil {
			return 0, nil, apiErr
		}
		if n := e.liveTokenCount(caller.owner, now); n >= maxPersonalTokens {
			// The real error at the cap is undocumented: 409 (inferred).
			return 0, nil, errorf(http.StatusConflict, "Maximum number of access tokens (%d) reached for this user; revoke a token first", maxPersonalTokens)
		}
		maxAge := defaultPersonalAge
		if req.maxAge > 0 {
			maxAge = req.maxAge
		}
		t := e.issue(caller.owner, req.description, maxAge, req.extend, req.scopes, req.ipAllowlist)
		t.authMethod = caller.authMethod
		out := tokenView(t, caller)
		out["full_token"] = t.full
		return http.StatusOK, out, nil

	case opAccessTokenList:
		return http.StatusOK, map[string]any{"tokens": e.liveViews(caller.owner, caller, now)}, nil

	case opAccessTokenUpdate:
		// Only description can change; any other field is refused rather
		// than silently ignored (inferred, as for creation).
		if apiErr := onlyFields(body, "description"); apiErr != nil {
			return 0, nil, apiErr
		}
		desc, apiErr := parseDescription(body)
		if apiErr != nil {
			return 0, nil, apiErr
		}
		t := e.ownToken(caller.owner, rt.tokenPrefix, now)
		if t == nil {
			return 0, nil, errorf(http.StatusNotFound, "Access token not found")
		}
		t.description = desc
		return http.StatusOK, tokenView(t, caller), nil

	case opAccessTokenRevoke:
		t := e.ownToken(caller.owner, rt.tokenPrefix, now)
		if t == nil {
			// Unknown or already revoked: 404 (inferred).
			return 0, nil, errorf(http.StatusNotFound, "Access token not found")
		}
		t.revoked = true
		return http.StatusOK, map[string]any{"message": "Access token revoked"}, nil

	case opUserInfo:
		p := caller.owner
		projects := []string{}
		return http.StatusOK, map[string]any{"user": map[string]any{
			"user": p.email, "user_id": p.id, "real_name": p.realName, "state": "active",
			"auth": []string{"password"}, "projects": projects, "invitations": []any{},
			"project_membership": map[string]any{}, "project_memberships": map[string]any{},
			"tenant": "aiven", "create_time": p.created.Format(time.RFC3339), "features": map[string]any{},
			"token_validity_begin": tokenValidityBegin(p),
		}}, nil

	case opUserExpireTokens:
		// Every token issued before now stops working, the caller's included (inferred).
		caller.owner.tokensSince = now.Add(time.Nanosecond)
		return http.StatusOK, map[string]any{"message": "All tokens expired"}, nil

	case opAppUserAccessTokenCreate, opAppUserAccessTokensList, opAppUserAccessTokenDelete:
		return e.applicationTokens(rt, caller, body, now)

	case opAppUserCreate, opAppUsersList, opAppUserGet, opAppUserUpdate, opAppUserDelete:
		return e.applicationUsers(rt, caller, body, now)

	case opOrganizationGet, opOrgAuthConfigGet, opOrgAuthConfigUpdate:
		return e.organizationCall(rt, caller, body)
	}
	return 0, nil, errorf(http.StatusNotFound, "Not found")
}

func (e *Emulator) applicationTokens(rt route, caller *token, body map[string]json.RawMessage, now time.Time) (int, any, *apiError) {
	target, ok := e.users[rt.userID]
	if !ok || !target.application || target.orgID != rt.orgID {
		return 0, nil, errorf(http.StatusNotFound, "Application user %s not found in organization %s", rt.userID, rt.orgID)
	}
	if apiErr := mayManage(caller.owner, target); apiErr != nil {
		return 0, nil, apiErr
	}
	switch rt.op {
	case opAppUserAccessTokenCreate:
		req, apiErr := parseCreate(body, true)
		if apiErr != nil {
			return 0, nil, apiErr
		}
		// Application tokens never expire unless max_age_seconds is set.
		t := e.issue(target, req.description, req.maxAge, req.extend, req.scopes, req.ipAllowlist)
		return http.StatusOK, map[string]any{"full_token": t.full, "token_prefix": t.prefix}, nil
	case opAppUserAccessTokensList:
		return http.StatusOK, map[string]any{"tokens": e.liveViews(target, caller, now)}, nil
	default:
		t := e.ownToken(target, rt.tokenPrefix, now)
		if t == nil {
			return 0, nil, errorf(http.StatusNotFound, "Access token not found")
		}
		t.revoked = true
		return http.StatusNoContent, nil, nil
	}
}

// mayManage applies Aiven's documented rule: organization admins may manage
// any application user's tokens; organization:app_users:write suffices
// when the application user holds no permissions itself. Anyone else: 403
// (the status is inferred).
func mayManage(caller, target *principal) *apiError {
	if caller.orgID == target.orgID {
		if slices.Contains(caller.permissions, RoleOrganizationAdmin) {
			return nil
		}
		if slices.Contains(caller.permissions, PermissionAppUserWrite) && len(target.permissions) == 0 {
			return nil
		}
	}
	need := RoleOrganizationAdmin
	if len(target.permissions) == 0 {
		need = RoleOrganizationAdmin + " or " + PermissionAppUserWrite
	}
	return errorf(http.StatusForbidden, "Permission denied: managing tokens of application user %s requires %s in organization %s", target.id, need, target.orgID)
}

// authenticate finds the caller's token and records its use. Callers hold e.mu.
func (e *Emulator) authenticate(r *http.Request) (*token, *apiError) {
	value, ok := credentials(r.Header.Get("Authorization"))
	if !ok {
		// A missing or malformed header: "Invalid token" (inferred).
		return nil, errorf(http.StatusUnauthorized, "Invalid token")
	}
	now := e.now()
	t, known := e.byValue[value]
	if !known || t.state(now) != "live" {
		return nil, errorf(http.StatusUnauthorized, msgExpired)
	}
	ip := clientIP(r)
	if len(t.ipAllowlist) > 0 && !allowed(t.ipAllowlist, ip) {
		return nil, errorf(http.StatusForbidden, "Access denied: the token does not allow requests from this IP address")
	}
	t.lastUsed, t.lastIP, t.lastUserAgent = now, ip, r.UserAgent()
	if t.extendWhenUsed && t.maxAge > 0 {
		t.expiry = now.Add(t.maxAge)
	}
	return t, nil
}

// credentials reads the token from an Authorization header. Two schemes
// are accepted, each on the word of one of Aiven's published documents:
//
//   - "aivenv1 <token>": the prose of Aiven's API reference
//     (https://api.aiven.io/doc/, "Authentication", tokenAuth: "Header
//     should be of the format authorization: aivenv1 <TOKEN>"), its curl
//     examples ("Authorization: aivenv1 REPLACE_BEARER_TOKEN"), and what
//     Aiven's Go client and CLI send;
//   - "Bearer <token>": the same reference's OpenAPI document declares
//     tokenAuth as "Security Scheme Type: HTTP, HTTP Authorization Scheme:
//     bearer", the scheme RFC 6750 names "Bearer".
//
// The scheme is matched without regard to case: RFC 9110, section 11.1
// ("It uses a case-insensitive token to identify the authentication
// scheme"). Whitespace between scheme and token (RFC 9110's 1*SP) is
// allowed; the token itself is taken as sent.
func credentials(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !(strings.EqualFold(scheme, "aivenv1") || strings.EqualFold(scheme, "bearer")) {
		return "", false
	}
	value := strings.TrimLeft(rest, " ")
	return value, value != ""
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func allowed(cidrs []string, ip string) bool {
	addr := net.ParseIP(ip)
	for _, c := range cidrs {
		if _, n, err := net.ParseCIDR(c); err == nil && addr != nil && n.Contains(addr) {
			return true
		}
		if net.ParseIP(c) != nil && net.ParseIP(c).Equal(addr) {
			return true
		}
	}
	return false
}

// ownToken finds a live token of owner by prefix or by its full value
// (revoke accepts either).
func (e *Emulator) ownToken(owner *principal, prefixOrToken string, now time.Time) *token {
	t, ok := e.byPrefix[prefixOrToken]
	if !ok {
		t, ok = e.byValue[prefixOrToken]
	}
	if !ok || t.owner != owner || t.state(now) != "live" {
		return nil
	}
	return t
}

// liveTokens returns owner's live tokens in issue order, dropping the dead
// ones from owner.maybeLive for good. Callers hold e.mu.
func liveTokens(owner *principal, now time.Time) []*token {
	owner.maybeLive = slices.DeleteFunc(owner.maybeLive, func(t *token) bool { return t.state(now) != "live" })
	return owner.maybeLive
}

func (e *Emulator) liveTokenCount(owner *principal, now time.Time) int {
	return len(liveTokens(owner, now))
}

func (e *Emulator) liveViews(owner *principal, caller *token, now time.Time) []map[string]any {
	out := []map[string]any{}
	for _, t := range liveTokens(owner, now) {
		out = append(out, tokenView(t, caller))
	}
	return out
}

// tokenView is the token object of Aiven's API, never with full_token.
func tokenView(t, caller *token) map[string]any {
	v := map[string]any{
		"create_time":      t.createTime.Format(time.RFC3339),
		"created_manually": t.manual,
		"currently_active": t == caller,
		"description":      t.description,
		"extend_when_used": t.extendWhenUsed,
		"token_prefix":     t.prefix,
		"scopes":           nonNil(t.scopes),
		"ip_allowlist":     nonNil(t.ipAllowlist),
	}
	if t.maxAge > 0 {
		v["max_age_seconds"] = t.maxAge.Seconds()
	} else if !t.owner.application {
		v["max_age_seconds"] = defaultPersonalAge.Seconds()
	}
	if !t.expiry.IsZero() {
		v["expiry_time"] = t.expiry.Format(time.RFC3339)
	}
	// A token never used has these keys, as null: Aiven sends null (its
	// CLI documentation lists a fresh token with null last use, IP and
	// agent), and clients index them.
	v["last_used_time"], v["last_ip"], v["last_user_agent"], v["last_user_agent_human_readable"] = nil, nil, nil, nil
	if !t.lastUsed.IsZero() {
		v["last_used_time"] = t.lastUsed.Format(time.RFC3339)
		v["last_ip"] = t.lastIP
		v["last_user_agent"] = t.lastUserAgent
		v["last_user_agent_human_readable"] = humanAgent(t.lastUserAgent)
	}
	return v
}

// tokenValidityBegin is /v1/me's "earliest valid authentication token
// timestamp", in the format of Aiven's published example
// ("2021-08-18T09:24:10.298796+00:00", the CLI's "avn user info"). The
// schema types it a string, not nullable, and the example shows it for an
// ordinary user, so it is always sent: the user's registration until
// UserExpireTokens moves it to the moment of that call (inferred: Aiven
// does not say what it holds for a user whose tokens were never
// invalidated).
func tokenValidityBegin(p *principal) string {
	begin := p.created
	if p.tokensSince.After(begin) {
		begin = p.tokensSince
	}
	return begin.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

func humanAgent(ua string) string {
	name, _, _ := strings.Cut(ua, " ")
	if name == "" {
		return "Unknown"
	}
	return name
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type createRequest struct {
	description string
	maxAge      time.Duration
	extend      bool
	scopes      []string
	ipAllowlist []string
}

// parseCreate validates a token-creation body, naming the first field that
// is wrong. Application tokens take an integer max_age_seconds.
func parseCreate(body map[string]json.RawMessage, application bool) (createRequest, *apiError) {
	var req createRequest
	if apiErr := onlyFields(body, "description", "max_age_seconds", "extend_when_used", "scopes", "ip_allowlist"); apiErr != nil {
		return req, apiErr
	}
	desc, apiErr := parseDescription(body)
	if apiErr != nil {
		return req, apiErr
	}
	req.description = desc
	if raw, ok := body["max_age_seconds"]; ok && !isNull(raw) {
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil {
			return req, errorf(http.StatusBadRequest, "Invalid input: max_age_seconds must be a number")
		}
		if application && n != math.Trunc(n) {
			return req, errorf(http.StatusBadRequest, "Invalid input: max_age_seconds must be an integer")
		}
		if n < minMaxAgeSeconds || n > maxMaxAgeSeconds {
			return req, errorf(http.StatusBadRequest, "Invalid input: max_age_seconds must be between %d and %d", minMaxAgeSeconds, maxMaxAgeSeconds)
		}
		req.maxAge = time.Duration(n * float64(time.Second))
	}
	if raw, ok := body["extend_when_used"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &req.extend); err != nil {
			return req, errorf(http.StatusBadRequest, "Invalid input: extend_when_used must be a boolean")
		}
	}
	// The schema: extend_when_used is "only applicable if max_age_seconds
	// is specified". Without it a personal token keeps its fixed 30 days
	// and says extend_when_used false (the reported value is inferred).
	req.extend = req.extend && req.maxAge > 0
	var err *apiError
	if req.scopes, err = stringList(body, "scopes"); err != nil {
		return req, err
	}
	if req.ipAllowlist, err = stringList(body, "ip_allowlist"); err != nil {
		return req, err
	}
	for _, c := range req.ipAllowlist {
		if _, _, cerr := net.ParseCIDR(c); cerr != nil && net.ParseIP(c) == nil {
			return req, errorf(http.StatusBadRequest, "Invalid input: ip_allowlist entry %q is not an IP address or network", c)
		}
	}
	return req, nil
}

// onlyFields refuses a body holding a field the operation does not take,
// naming it (inferred: Aiven's exact wording for unknown fields is not
// published).
func onlyFields(body map[string]json.RawMessage, allowed ...string) *apiError {
	for name := range body {
		if !slices.Contains(allowed, name) {
			return errorf(http.StatusBadRequest, "Invalid input: unknown field %q", name)
		}
	}
	return nil
}

func parseDescription(body map[string]json.RawMessage) (string, *apiError) {
	raw, ok := body["description"]
	if !ok || isNull(raw) {
		return "", errorf(http.StatusBadRequest, "Invalid input: description is required")
	}
	var desc string
	if err := json.Unmarshal(raw, &desc); err != nil {
		return "", errorf(http.StatusBadRequest, "Invalid input: description must be a string")
	}
	if n := len([]rune(desc)); n > maxDescription {
		return "", errorf(http.StatusBadRequest, "Invalid input: description is %d characters, at most %d are allowed", n, maxDescription)
	}
	return desc, nil
}

func stringList(body map[string]json.RawMessage, name string) ([]string, *apiError) {
	raw, ok := body[name]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errorf(http.StatusBadRequest, "Invalid input: %s must be a list of strings", name)
	}
	if len(list) > maxListItems {
		return nil, errorf(http.StatusBadRequest, "Invalid input: %s has %d items, at most %d are allowed", name, len(list), maxListItems)
	}
	return list, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
