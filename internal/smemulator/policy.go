package smemulator

import (
	"crypto/rand"
	"encoding/json"
	"math/big"
	"strings"
)

// GetRandomPassword and the resource-policy operations, as botocore's
// service model (botocore/data/secretsmanager/2017-10-17/service-2.json)
// and AWS's API reference describe them.

const (
	maxPasswordLength = 4096  // PasswordLengthType: 1 to 4096
	maxResourcePolicy = 20480 // NonEmptyResourcePolicyType: 1 to 20480
	defaultPassword   = 32    // "If you don't include this parameter, the default length is 32 characters."
)

// The character types of GetRandomPassword. The punctuation is the set
// the model's ExcludePunctuation documentation lists:
// ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
const (
	lowerChars       = "abcdefghijklmnopqrstuvwxyz"
	upperChars       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars       = "0123456789"
	punctuationChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

func (e *Emulator) getRandomPassword(q *request) (any, *apiError) {
	length := int64(defaultPassword)
	if n := q.integer("PasswordLength", 1, maxPasswordLength, true); n != nil {
		length = *n
	}
	exclude := q.text("ExcludeCharacters", false, 0, maxPasswordLength)
	flag := func(name string, def bool) bool {
		if b := q.boolean(name); b != nil {
			return *b
		}
		return def
	}
	noNumbers, noPunct := flag("ExcludeNumbers", false), flag("ExcludePunctuation", false)
	noUpper, noLower := flag("ExcludeUppercase", false), flag("ExcludeLowercase", false)
	space := flag("IncludeSpace", false)
	// "If you don't include this switch, the password contains at least
	// one of every character type": the default is true.
	requireEach := flag("RequireEachIncludedType", true)

	var types []string
	add := func(skip bool, chars string) {
		if skip {
			return
		}
		kept := strings.Map(func(r rune) rune {
			if strings.ContainsRune(exclude, r) {
				return -1
			}
			return r
		}, chars)
		if kept != "" {
			types = append(types, kept)
		}
	}
	add(noLower, lowerChars)
	add(noUpper, upperChars)
	add(noNumbers, digitChars)
	add(noPunct, punctuationChars)
	required := len(types) // the space is never required: the model names letters, numbers and punctuation
	add(!space, " ")
	if len(types) == 0 {
		// Inferred: AWS documents no wording for a request that leaves no character to use.
		q.fail(errOf("InvalidParameterException", "The password cannot be generated: every character type is excluded."))
	} else if requireEach && int64(required) > length {
		// Inferred, as above.
		q.fail(errOf("InvalidParameterException", "The password length is too short to include every required character type."))
	}
	return e.locked(q, func() (any, *apiError) {
		all := strings.Join(types, "")
		out := make([]byte, length)
		for i := range out {
			out[i] = all[randomIndex(len(all))]
		}
		if requireEach {
			// One of each required type, at distinct random places.
			places := randomPlaces(int(length), required)
			for i, at := range places {
				out[at] = types[i][randomIndex(len(types[i]))]
			}
		}
		return struct {
			RandomPassword string `json:"RandomPassword"`
		}{string(out)}, nil
	})
}

func randomIndex(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return int(v.Int64())
}

// randomPlaces picks k distinct indexes of [0, n).
func randomPlaces(n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + randomIndex(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:k]
}

// checkPolicy is the emulator's policy validation: the document must be a
// JSON object (inferred: AWS validates the IAM policy grammar, which the
// emulator does not; the model's MalformedPolicyDocumentException is "The
// resource policy has syntax errors.").
func checkPolicy(policy string) string {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return "The resource policy is not a JSON object: " + err.Error()
	}
	return ""
}

func (e *Emulator) putResourcePolicy(q *request) (any, *apiError) {
	id := q.secretID()
	policy := q.text("ResourcePolicy", true, 1, maxResourcePolicy)
	// BlockPublicPolicy is accepted and not evaluated: the emulator does
	// not judge whether a policy grants broad access (inferred; AWS
	// refuses such a policy with PublicPolicyException when it is true).
	q.boolean("BlockPublicPolicy")
	if policy != "" {
		if msg := checkPolicy(policy); msg != "" {
			q.fail(errOf("MalformedPolicyDocumentException", "%s", msg))
		}
	}
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		s.policy = policy
		return arnName{ARN: s.arn, Name: s.name}, nil
	})
}

type policyAnswer struct {
	ARN            string `json:"ARN"`
	Name           string `json:"Name"`
	ResourcePolicy string `json:"ResourcePolicy,omitempty"` // none attached: left out (the model's minimum length is 1)
}

func (e *Emulator) getResourcePolicy(q *request) (any, *apiError) {
	id := q.secretID()
	return e.withSecret(q, id, (*Emulator).resolveIn, func(s *secretEntry) (any, *apiError) {
		return policyAnswer{ARN: s.arn, Name: s.name, ResourcePolicy: s.policy}, nil
	})
}

func (e *Emulator) deleteResourcePolicy(q *request) (any, *apiError) {
	id := q.secretID()
	return e.withSecret(q, id, (*Emulator).writableIn, func(s *secretEntry) (any, *apiError) {
		s.policy = ""
		return arnName{ARN: s.arn, Name: s.name}, nil
	})
}

type validationEntry struct {
	CheckName    string `json:"CheckName"`
	ErrorMessage string `json:"ErrorMessage"`
}

func (e *Emulator) validateResourcePolicy(q *request) (any, *apiError) {
	var id string
	if q.has("SecretId") {
		id = q.text("SecretId", false, 1, maxARNLength)
	}
	policy := q.text("ResourcePolicy", true, 1, maxResourcePolicy)
	return e.locked(q, func() (any, *apiError) {
		if id != "" {
			if _, apiErr := e.resolveIn(q.region, id); apiErr != nil {
				return nil, apiErr
			}
		}
		out := struct {
			PolicyValidationPassed bool              `json:"PolicyValidationPassed"`
			ValidationErrors       []validationEntry `json:"ValidationErrors"`
		}{PolicyValidationPassed: true, ValidationErrors: []validationEntry{}}
		// A policy that fails is answered, not refused (the model's
		// PolicyValidationPassed and ValidationErrors); the check's name
		// is the emulator's own (inferred).
		if msg := checkPolicy(policy); msg != "" {
			out.PolicyValidationPassed = false
			out.ValidationErrors = append(out.ValidationErrors, validationEntry{CheckName: "JSON_SYNTAX", ErrorMessage: msg})
		}
		return out, nil
	})
}
