package smemulator

// BatchGetSecretValue, as AWS documents it: the AWSCURRENT value of up to
// 20 secrets, named in SecretIdList or chosen by Filters (paged by
// MaxResults and NextToken), with a per-secret error in Errors for each
// secret that cannot be read; one bad secret never fails the call.

// Model limits of BatchGetSecretValue (AWS's API reference).
const (
	maxBatchIDs  = 20 // SecretIdList: 1 to 20 entries
	maxBatchPage = 20 // MaxResults: 1 to 20
)

type (
	batchError struct {
		SecretID  string `json:"SecretId"`
		ErrorCode string `json:"ErrorCode"`
		Message   string `json:"Message"`
	}
	batchAnswer struct {
		SecretValues []secretValueAnswer `json:"SecretValues"`
		Errors       []batchError        `json:"Errors"`
		NextToken    string              `json:"NextToken,omitempty"`
	}
)

func (e *Emulator) batchGetSecretValue(q *request) (any, *apiError) {
	ids := q.stringList("SecretIdList", 1, maxBatchIDs, 1, maxSecretIDLength)
	sel := selection{filters: readFilters(q), region: q.region}
	offset, size := readPageOf(q, maxBatchPage)
	byID, byFilter := q.has("SecretIdList"), q.has("Filters")
	// AWS documents each rule ("You must include Filters or SecretIdList,
	// but not both"; MaxResults: "To use this parameter, you must also use
	// the Filters parameter"); the words are inferred. A NextToken without
	// Filters is refused too (inferred, the stricter reading: only a
	// filtered call is ever paged).
	switch {
	case byID && byFilter:
		q.fail(errOf("InvalidParameterException", "Invalid parameter: specify either SecretIdList or Filters, not both."))
	case !byID && !byFilter:
		q.fail(errOf("InvalidParameterException", "Invalid parameter: specify either SecretIdList or Filters."))
	case byID && q.has("MaxResults"):
		q.fail(errOf("InvalidParameterException", "Invalid parameter: MaxResults can only be used with Filters."))
	case byID && q.has("NextToken"):
		q.fail(errOf("InvalidParameterException", "Invalid parameter: NextToken can only be used with Filters."))
	}
	return e.locked(q, func() (any, *apiError) {
		out := batchAnswer{SecretValues: []secretValueAnswer{}, Errors: []batchError{}}
		add := func(asked string, s *secretEntry, apiErr *apiError) {
			var v *version
			if apiErr == nil {
				v, apiErr = s.pick("", "") // AWSCURRENT
			}
			if apiErr == nil {
				out.SecretValues = append(out.SecretValues, e.readValue(s, v))
				return
			}
			out.Errors = append(out.Errors, batchError{SecretID: asked, ErrorCode: apiErr.Type, Message: apiErr.Message})
		}
		if byID {
			// In the order asked, each mention answered (inferred).
			for _, id := range ids {
				s, apiErr := e.usableIn(q.region, id)
				add(id, s, apiErr)
			}
			return out, nil
		}
		found, next := page(e.matching(sel), offset, size)
		for _, s := range found {
			add(s.arn, s, nil)
		}
		out.NextToken = next
		return out, nil
	})
}

// readValue answers version v of s as GetSecretValue does, setting
// LastAccessedDate (AWS logs a GetSecretValue for each secret of a batch
// too). Callers hold e.mu.
func (e *Emulator) readValue(s *secretEntry, v *version) secretValueAnswer {
	now := e.now()
	s.accessed, v.accessed = now, now
	return secretValueAnswer{
		ARN: s.arn, Name: s.name, VersionID: v.id,
		SecretString: v.str, SecretBinary: v.bin,
		VersionStages: s.stagesOf(v.id), CreatedDate: epochOf(v.created),
	}
}
