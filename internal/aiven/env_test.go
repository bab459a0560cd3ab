package aiven

import (
	"strings"
	"testing"

	codegen "github.com/aiven/go-client-codegen"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/secret"
)

// TestCheckEnvAgreesWithGoClientCodegen sets each AIVEN_* variable that
// go-client-codegen parses, malformed and well formed, in the process
// environment, and checks that CheckEnv refuses exactly what NewClient
// refuses, naming the variable without quoting the value.
func TestCheckEnvAgreesWithGoClientCodegen(t *testing.T) {
	good := map[string]string{
		"AIVEN_DEBUG": "false", "AIVEN_CLIENT_ENABLE_SINGLE_FLIGHT": "true",
		"AIVEN_CLIENT_RETRY_MAX": "0x3", "AIVEN_CLIENT_RETRY_WAIT_MIN": "1s", "AIVEN_CLIENT_RETRY_WAIT_MAX": "2m",
	}
	if len(good) != len(codegenEnv) {
		t.Fatalf("%d variables checked, %d listed", len(good), len(codegenEnv))
	}
	for _, v := range codegenEnv {
		for _, tt := range []struct {
			value string
			bad   bool
		}{{good[v.name], false}, {"notvalue-XYZ", true}} {
			t.Run(v.name+"="+tt.value, func(t *testing.T) {
				t.Setenv(v.name, tt.value)
				_, libErr := codegen.NewClient(codegen.DebugOpt(false), codegen.TokenOpt("x"))
				if (libErr != nil) != tt.bad {
					t.Fatalf("go-client-codegen's NewClient: %v; want failure %v", libErr, tt.bad)
				}
				_, newErr := New("https://api.aiven.io", secret.NewToken(testToken), Options{Policy: Policy{AllowedHosts: []string{"api.aiven.io"}}})
				if (newErr != nil) != tt.bad {
					t.Fatalf("New: %v; want failure %v", newErr, tt.bad)
				}
				err := CheckEnv(func(name string) string {
					if name == v.name {
						return tt.value
					}
					return ""
				})
				if (err != nil) != tt.bad {
					t.Fatalf("CheckEnv: %v; want failure %v", err, tt.bad)
				}
				if err != nil && (!strings.HasPrefix(err.Error(), v.name+": ") || strings.Contains(err.Error(), "XYZ")) {
					t.Errorf("CheckEnv's error %q must name %s and not quote the value", err, v.name)
				}
			})
		}
	}
}
