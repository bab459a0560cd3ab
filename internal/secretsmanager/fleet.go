package secretsmanager

// The calls of the fleet's doors: the sweep lists the secrets and reads
// their current values in batches, and both the sweep and on-demand
// rotation start rotations.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// MaxBatch is how many secrets one BatchGetSecretValue reads by id.
const MaxBatch = 20

// listPage is how many secrets one ListSecrets page holds, its maximum.
const listPage = 100

// Listed is one secret as ListSecrets or DescribeSecret reports it:
// metadata only, never a value.
type Listed struct {
	ARN, Name         string
	RotationEnabled   bool
	RotationLambdaARN string
	// LastRotated is when a rotation last completed; zero if never.
	LastRotated time.Time
	// NextRotation is the latest the next rotation will happen
	// (NextRotationDate: "on or before this date"); zero when none is
	// given.
	NextRotation time.Time
	// Versions maps each labelled version id to its staging labels.
	Versions map[string][]string
	// PrimaryRegion is the region of the secret's primary, "" for a secret
	// never replicated: a replica listed in its own region names another.
	PrimaryRegion string
}

// ListSecrets lists the secrets of the account and region that keep
// accepts (nil keeps every one), following the pages (100 a page),
// narrowed to those carrying tagKey when it is set (a tag-key filter).
// Only kept secrets are held while it pages, so its memory grows with
// them, not with the account. It only reads: calling it twice is harmless.
func (c *Client) ListSecrets(ctx context.Context, tagKey string, keep func(Listed) bool) ([]Listed, error) {
	in := &sm.ListSecretsInput{MaxResults: aws.Int32(listPage)}
	if tagKey != "" {
		in.Filters = []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{tagKey}}}
	}
	var out []Listed
	for page := 1; ; page++ {
		resp, err := c.api.ListSecrets(ctx, in, c.withDeadline(ctx))
		if err != nil {
			return nil, clipped(fmt.Errorf("list secrets (page %d): %w", page, err))
		}
		for _, e := range resp.SecretList {
			l := Listed{
				ARN: aws.ToString(e.ARN), Name: aws.ToString(e.Name),
				RotationEnabled: aws.ToBool(e.RotationEnabled), RotationLambdaARN: aws.ToString(e.RotationLambdaARN),
				LastRotated: aws.ToTime(e.LastRotatedDate), NextRotation: aws.ToTime(e.NextRotationDate),
				Versions: e.SecretVersionsToStages, PrimaryRegion: aws.ToString(e.PrimaryRegion),
			}
			if keep == nil || keep(l) {
				out = append(out, l)
			}
		}
		if aws.ToString(resp.NextToken) == "" {
			return out, nil
		}
		in.NextToken = resp.NextToken
	}
}

// CurrentValue is a secret's AWSCURRENT SecretString and the version that
// holds it, as one answer read them together.
type CurrentValue struct {
	SecretString string
	VersionID    string
}

// CurrentValues reads the AWSCURRENT SecretString of up to MaxBatch
// secrets by ARN (BatchGetSecretValue), each with its version id: a
// listing made earlier may already be out of date. values holds those it could read;
// failed names the others with the reason Secrets Manager gave (a deleted
// secret, a refused GetSecretValue, a binary secret). err is for the call
// as a whole. It only reads: calling it twice is harmless.
func (c *Client) CurrentValues(ctx context.Context, arns []string) (values map[string]CurrentValue, failed map[string]string, err error) {
	if len(arns) > MaxBatch {
		return nil, nil, fmt.Errorf("batch of %d secrets, more than the %d BatchGetSecretValue takes", len(arns), MaxBatch)
	}
	values, failed = map[string]CurrentValue{}, map[string]string{}
	in := &sm.BatchGetSecretValueInput{SecretIdList: arns}
	for {
		resp, err := c.api.BatchGetSecretValue(ctx, in, c.withDeadline(ctx))
		if err != nil {
			return nil, nil, clipped(fmt.Errorf("batch get secret values: %w", err))
		}
		for _, v := range resp.SecretValues {
			arn := aws.ToString(v.ARN)
			if v.SecretString == nil {
				failed[arn] = "the version holds SecretBinary; the rotator needs SecretString"
				continue
			}
			values[arn] = CurrentValue{SecretString: *v.SecretString, VersionID: aws.ToString(v.VersionId)}
		}
		for _, e := range resp.Errors {
			failed[aws.ToString(e.SecretId)] = clip(aws.ToString(e.ErrorCode)+": "+aws.ToString(e.Message), 300)
		}
		if aws.ToString(resp.NextToken) == "" {
			break
		}
		in.NextToken = resp.NextToken
	}
	// A secret named but answered neither way is reported, not dropped.
	for _, arn := range arns {
		if _, ok := values[arn]; !ok {
			if _, ok := failed[arn]; !ok {
				failed[arn] = "BatchGetSecretValue returned neither its value nor an error"
			}
		}
	}
	return values, failed, nil
}

// DescribeRotation reads the secret's rotation configuration and versions
// (DescribeSecret). It only reads: calling it twice is harmless.
func (c *Client) DescribeRotation(ctx context.Context, secretID string) (Listed, error) {
	out, err := c.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &secretID}, c.withDeadline(ctx))
	if err != nil {
		return Listed{}, clipped(err)
	}
	return Listed{
		ARN: aws.ToString(out.ARN), Name: aws.ToString(out.Name),
		RotationEnabled: aws.ToBool(out.RotationEnabled), RotationLambdaARN: aws.ToString(out.RotationLambdaARN),
		LastRotated: aws.ToTime(out.LastRotatedDate), NextRotation: aws.ToTime(out.NextRotationDate),
		Versions: out.VersionIdsToStages, PrimaryRegion: aws.ToString(out.PrimaryRegion),
	}, nil
}

// ErrRotationInProgress says RotateSecret refused because a rotation of
// the secret is already under way.
var ErrRotationInProgress = errors.New("a rotation of the secret is already in progress")

// StartRotation asks Secrets Manager to rotate the secret now, with the
// rotation function and schedule it already has (RotateSecret with no
// other parameter), and returns the new version's id. The SDK gives the
// call a ClientRequestToken, so its own retries start one rotation; a
// second call starts another, or fails with ErrRotationInProgress while
// the first runs.
func (c *Client) StartRotation(ctx context.Context, secretID string) (string, error) {
	return c.StartRotationAs(ctx, secretID, "")
}

// StartRotationAs is StartRotation with the new version's id chosen:
// versionID becomes RotateSecret's ClientRequestToken, which "becomes the
// VersionId of the new version" (AWS Secrets Manager API Reference,
// RotateSecret), and so the version every step's event names; "" lets the
// SDK choose a UUID. A second call with the same versionID fails
// (ResourceExistsException once the version exists); one with another
// starts another rotation, or fails with ErrRotationInProgress.
func (c *Client) StartRotationAs(ctx context.Context, secretID, versionID string) (string, error) {
	in := &sm.RotateSecretInput{SecretId: &secretID}
	if versionID != "" {
		in.ClientRequestToken = &versionID
	}
	out, err := c.api.RotateSecret(ctx, in, c.withDeadline(ctx))
	if err != nil {
		// InvalidRequestException covers other refusals too (no rotation
		// function, no AWSCURRENT); AWS words this one so.
		var inv *types.InvalidRequestException
		if errors.As(err, &inv) && strings.Contains(inv.ErrorMessage(), "previous rotation isn't complete") {
			return "", clipped(fmt.Errorf("%w: %w", ErrRotationInProgress, err))
		}
		return "", clipped(err)
	}
	return aws.ToString(out.VersionId), nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// VersionDates is when each labelled version of the secret was created
// (ListSecretVersionIds' CreatedDate: the version RotateSecret makes has
// no value until createSecret stores one, so GetSecretValue cannot date
// it). It only reads: calling it twice is harmless.
func (c *Client) VersionDates(ctx context.Context, secretID string) (map[string]time.Time, error) {
	in := &sm.ListSecretVersionIdsInput{SecretId: &secretID, MaxResults: aws.Int32(listPage)}
	out := map[string]time.Time{}
	for page := 1; ; page++ {
		resp, err := c.api.ListSecretVersionIds(ctx, in, c.withDeadline(ctx))
		if err != nil {
			return nil, clipped(fmt.Errorf("list the versions of the secret (page %d): %w", page, err))
		}
		for _, v := range resp.Versions {
			out[aws.ToString(v.VersionId)] = aws.ToTime(v.CreatedDate)
		}
		if aws.ToString(resp.NextToken) == "" {
			return out, nil
		}
		in.NextToken = resp.NextToken
	}
}

// RemovePending takes AWSPENDING off version versionID
// (UpdateSecretVersionStage with RemoveFromVersionId only), which is how
// AWS documents recovering a rotation that cannot finish: no rotation can
// start while AWSPENDING sits on a version other than AWSCURRENT. Calling
// it twice is harmless: the second finds the label gone (AWS answers that
// as success too; an error naming the label is reported as it is).
func (c *Client) RemovePending(ctx context.Context, secretID, versionID string) error {
	_, err := c.api.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: &secretID, VersionStage: aws.String(StagePending), RemoveFromVersionId: &versionID,
	}, c.withDeadline(ctx))
	return clipped(err)
}

// RestorePending puts AWSPENDING back on version versionID
// (UpdateSecretVersionStage with MoveToVersionId): a recovery that removed
// it and then could not start the rotation undoes its first step, so that
// the next sweep finds the rotation stuck again. Calling it twice is
// harmless.
func (c *Client) RestorePending(ctx context.Context, secretID, versionID string) error {
	_, err := c.api.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
		SecretId: &secretID, VersionStage: aws.String(StagePending), MoveToVersionId: &versionID,
	}, c.withDeadline(ctx))
	return clipped(err)
}
