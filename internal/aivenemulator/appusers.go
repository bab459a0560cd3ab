package aivenemulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"time"
)

// Application-user management: ApplicationUserCreate, ApplicationUsersList,
// ApplicationUserGet, ApplicationUserUpdate and ApplicationUserDelete, with
// the paths, methods and bodies of Aiven's published OpenAPI document
// (https://api.aiven.io/doc/#tag/Application_Users; the schemas are in
// testdata/aiven-openapi-excerpt.json). Aiven's Go client, generated from
// that document, names the permission each needs:
// "Required roles or permissions: organization:app_users:write"
// (github.com/aiven/go-client-codegen, handler/applicationuser), and
// Aiven's documentation ("Manage application users",
// https://aiven.io/docs/platform/howto/manage-application-users) says "You
// must be an organization admin to access this feature". So:
//
//   - role:organization:admin of the organization may do all five, on any
//     of its application users;
//   - organization:app_users:write may create and list, and get, update
//     and delete an application user holding no permissions (the rule the
//     emulator already applies to application users' tokens: mayManage);
//   - making an application user an organization admin (is_super_admin
//     true, on create or update) takes role:organization:admin (inferred:
//     granting the admin role is an admin's act);
//   - anyone else, another organization's members included: 403.
//
// is_super_admin is reported true when the application user holds
// role:organization:admin (Aiven's documentation: "To allow an
// application user to create organizations, units, and projects, you grant
// them the organization admin role"); setting it grants or takes away that
// role. Deleting an application user revokes its tokens (inferred: a
// deleted user cannot authenticate).

func (e *Emulator) applicationUsers(rt route, caller *token, body map[string]json.RawMessage, now time.Time) (int, any, *apiError) {
	me := caller.owner
	switch rt.op {
	case opAppUserCreate:
		if apiErr := mayAdminister(me, rt.orgID); apiErr != nil {
			return 0, nil, apiErr
		}
		req, apiErr := parseApplicationUser(body)
		if apiErr != nil {
			return 0, nil, apiErr
		}
		if req.superAdmin != nil && *req.superAdmin && !isAdminOf(me, rt.orgID) {
			return 0, nil, errorf(http.StatusForbidden, "Permission denied: making an application user an organization admin requires %s in organization %s", RoleOrganizationAdmin, rt.orgID)
		}
		var perms []string
		if req.superAdmin != nil && *req.superAdmin {
			perms = []string{RoleOrganizationAdmin}
		}
		p := e.newApplicationUser(rt.orgID, req.name, perms)
		return http.StatusOK, applicationUserView(p), nil

	case opAppUsersList:
		if apiErr := mayAdminister(me, rt.orgID); apiErr != nil {
			return 0, nil, apiErr
		}
		var found []*principal
		for _, p := range e.users {
			if p.application && p.orgID == rt.orgID {
				found = append(found, p)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].id < found[j].id })
		out := []map[string]any{}
		for _, p := range found {
			out = append(out, applicationUserView(p))
		}
		return http.StatusOK, map[string]any{"application_users": out}, nil
	}

	// Get, update, delete: one application user of the organization.
	if apiErr := mayAdminister(me, rt.orgID); apiErr != nil {
		return 0, nil, apiErr
	}
	target, ok := e.users[rt.userID]
	switch {
	case !ok || target.orgID != rt.orgID:
		// The schema's 404: "organization_user_not_found: User not in organization".
		return 0, nil, coded(http.StatusNotFound, "organization_user_not_found", "User %s not in organization %s", rt.userID, rt.orgID)
	case !target.application:
		// The schema's 400: "user_not_application_user: User is not an application user".
		return 0, nil, coded(http.StatusBadRequest, "user_not_application_user", "User %s is not an application user", rt.userID)
	}
	if apiErr := mayManageUser(me, target); apiErr != nil {
		return 0, nil, apiErr
	}
	switch rt.op {
	case opAppUserGet:
		return http.StatusOK, applicationUserView(target), nil
	case opAppUserUpdate:
		req, apiErr := parseApplicationUser(body)
		if apiErr != nil {
			return 0, nil, apiErr
		}
		if req.superAdmin != nil && *req.superAdmin != isAdminOf(target, target.orgID) && !isAdminOf(me, rt.orgID) {
			return 0, nil, errorf(http.StatusForbidden, "Permission denied: changing whether an application user is an organization admin requires %s in organization %s", RoleOrganizationAdmin, rt.orgID)
		}
		target.realName = req.name
		if req.superAdmin != nil {
			perms := slices.DeleteFunc(slices.Clone(target.permissions), func(p string) bool { return p == RoleOrganizationAdmin })
			if *req.superAdmin {
				perms = append(perms, RoleOrganizationAdmin)
			}
			target.permissions = perms
		}
		return http.StatusOK, applicationUserView(target), nil
	default: // opAppUserDelete
		delete(e.users, target.id)
		for _, t := range liveTokens(target, now) {
			t.revoked = true
		}
		target.maybeLive = nil
		return http.StatusNoContent, nil, nil
	}
}

// coded is an error whose errors[] item carries Aiven's machine-readable
// error_code, as the published schemas of ApplicationUserGet and
// ApplicationUserUpdate list them (organization_user_not_found,
// user_not_application_user).
func coded(status int, code, format string, args ...any) *apiError {
	e := errorf(status, format, args...)
	e.code = code
	return e
}

func isAdminOf(p *principal, orgID string) bool {
	return p.orgID == orgID && slices.Contains(p.permissions, RoleOrganizationAdmin)
}

// mayAdminister: the caller holds role:organization:admin or
// organization:app_users:write in orgID.
func mayAdminister(caller *principal, orgID string) *apiError {
	if caller.orgID == orgID && (slices.Contains(caller.permissions, RoleOrganizationAdmin) || slices.Contains(caller.permissions, PermissionAppUserWrite)) {
		return nil
	}
	return errorf(http.StatusForbidden, "Permission denied: managing application users requires %s or %s in organization %s", RoleOrganizationAdmin, PermissionAppUserWrite, orgID)
}

// mayManageUser is mayManage's rule for the user itself.
func mayManageUser(caller, target *principal) *apiError {
	if isAdminOf(caller, target.orgID) || (caller.orgID == target.orgID && slices.Contains(caller.permissions, PermissionAppUserWrite) && len(target.permissions) == 0) {
		return nil
	}
	return errorf(http.StatusForbidden, "Permission denied: managing application user %s requires %s in organization %s", target.id, RoleOrganizationAdmin, target.orgID)
}

type applicationUserRequest struct {
	name       string
	superAdmin *bool
}

// parseApplicationUser reads ApplicationUserCreateRequestBody or
// ApplicationUserUpdateRequestBody: both require name and take
// is_super_admin. An empty name and unknown fields are refused (inferred,
// as for tokens).
func parseApplicationUser(body map[string]json.RawMessage) (applicationUserRequest, *apiError) {
	var req applicationUserRequest
	if apiErr := onlyFields(body, "name", "is_super_admin"); apiErr != nil {
		return req, apiErr
	}
	raw, ok := body["name"]
	if !ok || isNull(raw) {
		return req, errorf(http.StatusBadRequest, "Invalid input: name is required")
	}
	if err := json.Unmarshal(raw, &req.name); err != nil {
		return req, errorf(http.StatusBadRequest, "Invalid input: name must be a string")
	}
	if req.name == "" {
		return req, errorf(http.StatusBadRequest, "Invalid input: name must not be empty")
	}
	if raw, ok := body["is_super_admin"]; ok && !isNull(raw) {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return req, errorf(http.StatusBadRequest, "Invalid input: is_super_admin must be a boolean")
		}
		req.superAdmin = &b
	}
	return req, nil
}

// applicationUserView is ApplicationUserGetResponse (and the create,
// update and list items, which have the same five required properties).
func applicationUserView(p *principal) map[string]any {
	return map[string]any{
		"user_id":        p.id,
		"name":           p.realName,
		"user_email":     p.email,
		"is_super_admin": isAdminOf(p, p.orgID),
		"create_time":    p.created.Format(time.RFC3339),
	}
}
