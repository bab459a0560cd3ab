package aivenemulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// kin-openapi accepts an answer that leaves out any property the schema
// does not list as required, and the excerpt requires few. Clients index
// more than that (the Python CLI prints last_used_time for every token), so
// after kin-openapi every 2xx answer is walked against its schema and each
// property the schema declares for an object must be present, unless it
// is named below with the reason it may be absent.
var mayBeAbsent = map[string]string{
	"errors":                           "error answers only",
	"more_info":                        "error answers only",
	"message":                          "a printable note Aiven adds to some answers only",
	"expiry_time":                      "absent when the token never expires (docs/local-stack-aiven.md)",
	"max_age_seconds":                  "an application token made without one has none and never expires (inferred; personal tokens always have one, their schemas require it)",
	"city":                             "profile fields a user has not filled in: Aiven's published /v1/me example leaves them out",
	"country":                          "as city",
	"department":                       "as city",
	"job_title":                        "as city",
	"managed_by_scim":                  "only for users an organization manages: the published /v1/me example leaves it out (inferred)",
	"managing_organization_id":         "as managed_by_scim",
	"ANY":                              "the excerpt's placeholder for a map's keys (project_membership), not a property",
	"default_governance_user_group_id": "an organization without a default governance group has none (optional in OrganizationGetResponse)",
}

// sentAsNull lists the properties Aiven sends as null although the
// excerpt does not mark them nullable: a token never used has them all
// null (the "avn user access-token list" listing in Aiven's CLI
// documentation shows null for a fresh token). markNullable marks them in
// the loaded schema so that kin-openapi accepts what Aiven sends.
var sentAsNull = []string{"last_used_time", "last_ip", "last_user_agent", "last_user_agent_human_readable"}

func markNullable(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(s *openapi3.Schema)
	walk = func(s *openapi3.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		for name, p := range s.Properties {
			if p.Value != nil && slices.Contains(sentAsNull, name) {
				p.Value.Nullable = true
			}
			walk(p.Value)
		}
		if s.Items != nil {
			walk(s.Items.Value)
		}
	}
	for _, ref := range doc.Components.Schemas {
		walk(ref.Value)
	}
}

// missingKeys returns, for body against schema, every declared property
// that is absent (and not in mayBeAbsent) and every null that the schema
// does not allow, as JSON paths. Recurses through objects and arrays.
func missingKeys(schema *openapi3.Schema, body []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	var out []string
	var walk func(s *openapi3.Schema, v any, path string)
	walk = func(s *openapi3.Schema, v any, path string) {
		if s == nil {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			names := make([]string, 0, len(s.Properties))
			for name := range s.Properties {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				p := s.Properties[name].Value
				val, present := x[name]
				switch {
				case !present:
					if _, ok := mayBeAbsent[name]; !ok {
						out = append(out, path+"."+name+" is missing")
					}
				case val == nil:
					if p == nil || !p.Nullable {
						out = append(out, path+"."+name+" is null")
					}
				default:
					walk(p, val, path+"."+name)
				}
			}
		case []any:
			if s.Items != nil {
				for i, item := range x {
					walk(s.Items.Value, item, fmt.Sprintf("%s[%d]", path, i))
				}
			}
		}
	}
	walk(schema, v, "$")
	return out, nil
}

// responseSchema is the published schema of op's answer with status code.
func responseSchema(t testing.TB, op string, code int) *openapi3.Schema {
	t.Helper()
	doc := loadSchema(t)
	for _, item := range doc.Paths.Map() {
		for _, o := range item.Operations() {
			if o.OperationID != op {
				continue
			}
			r := o.Responses.Status(code)
			if r == nil || r.Value == nil || r.Value.Content.Get("application/json") == nil {
				t.Fatalf("%s has no JSON answer for %d", op, code)
			}
			return r.Value.Content.Get("application/json").Schema.Value
		}
	}
	t.Fatalf("no operation %s in the schema", op)
	return nil
}

// The check itself: it must catch a key left out, a null where the schema
// does not allow one, and accept Aiven's nulls and the listed absences.
func TestCompletenessCheckCatchesMissingKeys(t *testing.T) {
	list := responseSchema(t, opAccessTokenList, 200)
	full := `{"tokens":[{"create_time":"2021-08-16T16:26:10Z","created_manually":true,"currently_active":true,
		"description":"d","extend_when_used":false,"ip_allowlist":[],"scopes":[],"max_age_seconds":2592000,
		"token_prefix":"6JsKDclT3OMQ","expiry_time":"2021-09-15T16:26:10Z",
		"last_used_time":null,"last_ip":null,"last_user_agent":null,"last_user_agent_human_readable":null}]}`
	if got, err := missingKeys(list, []byte(full)); err != nil || len(got) != 0 {
		t.Fatalf("a complete token list: %v %v", got, err)
	}
	noLastIP := strings.Replace(full, `"last_ip":null,`, "", 1)
	if got, _ := missingKeys(list, []byte(noLastIP)); !slices.Equal(got, []string{"$.tokens[0].last_ip is missing"}) {
		t.Fatalf("last_ip left out: %v", got)
	}
	nullScopes := strings.Replace(full, `"scopes":[]`, `"scopes":null`, 1)
	if got, _ := missingKeys(list, []byte(nullScopes)); !slices.Equal(got, []string{"$.tokens[0].scopes is null"}) {
		t.Fatalf("scopes null: %v", got)
	}
	me := responseSchema(t, opUserInfo, 200)
	if got, _ := missingKeys(me, []byte(`{"user":{"user":"a@example.com","user_id":"u1","real_name":"a","state":"active",
		"auth":[],"projects":[],"invitations":[],"project_membership":{},"project_memberships":{},"tenant":"aiven",
		"create_time":"2021-08-18T09:24:10Z","features":{}}}`)); !slices.Equal(got, []string{"$.user.token_validity_begin is missing"}) {
		t.Fatalf("/v1/me without token_validity_begin: %v", got)
	}
}
