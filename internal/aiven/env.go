package aiven

import (
	"fmt"
	"strconv"
	"time"
)

// codegenEnv are the AIVEN_* variables go-client-codegen's NewClient parses
// (envconfig.Process on its aivenClient, client.go of the module) into a
// type other than string, so that a malformed value fails NewClient, and
// with it every Aiven call of every step. The string ones (AIVEN_WEB_URL,
// AIVEN_USER_AGENT, AIVEN_TOKEN) cannot fail, and New overrides them.
var codegenEnv = []struct {
	name, want string
	parse      func(string) error
}{
	{"AIVEN_DEBUG", "a boolean (true or false)", parseBool},
	{"AIVEN_CLIENT_ENABLE_SINGLE_FLIGHT", "a boolean (true or false)", parseBool},
	{"AIVEN_CLIENT_RETRY_MAX", "an integer", func(v string) error { _, err := strconv.ParseInt(v, 0, strconv.IntSize); return err }},
	{"AIVEN_CLIENT_RETRY_WAIT_MIN", "a duration such as 2s", func(v string) error { _, err := time.ParseDuration(v); return err }},
	{"AIVEN_CLIENT_RETRY_WAIT_MAX", "a duration such as 15s", func(v string) error { _, err := time.ParseDuration(v); return err }},
}

func parseBool(v string) error { _, err := strconv.ParseBool(v); return err }

// CheckEnv checks, through getenv, the AIVEN_* variables go-client-codegen
// reads on every New, as it parses them; the error names the variable and
// never quotes its value. An unset (or, through getenv, empty) variable
// passes. It only reads: calling it twice gives the same answer.
func CheckEnv(getenv func(string) string) error {
	for _, v := range codegenEnv {
		if s := getenv(v.name); s != "" && v.parse(s) != nil {
			return fmt.Errorf("%s: is not %s; go-client-codegen, the Aiven client, reads it and would fail every Aiven call (unset it)", v.name, v.want)
		}
	}
	return nil
}
