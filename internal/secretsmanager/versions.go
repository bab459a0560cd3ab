package secretsmanager

import "slices"

// The staging labels of a secret's versions, as DescribeSecret's
// VersionIdsToStages gives them (version id to labels).

// CurrentVersion is the version that carries AWSCURRENT, or "".
func CurrentVersion(versions map[string][]string) string {
	for id, stages := range versions {
		if slices.Contains(stages, StageCurrent) {
			return id
		}
	}
	return ""
}

// PendingVersion is a version carrying AWSPENDING but not AWSCURRENT (a
// rotation in progress), or "".
func PendingVersion(versions map[string][]string) string {
	for id, stages := range versions {
		if slices.Contains(stages, StagePending) && !slices.Contains(stages, StageCurrent) {
			return id
		}
	}
	return ""
}

// PendingVersions are the versions that carry AWSPENDING: a rotation in
// progress, whose token a sweep must spare.
func PendingVersions(versions map[string][]string) map[string]bool {
	out := map[string]bool{}
	for id, stages := range versions {
		if slices.Contains(stages, StagePending) {
			out[id] = true
		}
	}
	return out
}
