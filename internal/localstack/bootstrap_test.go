package localstack_test

// The built binary, not just its packages: `functions/rotator` compiled as
// Lambda compiles it (for this machine's architecture), started behind a
// Lambda Runtime API, and driven by the Secrets Manager emulator.

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/lambdaruntime"
	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// hostBuild is one package built for the host once per test binary.
type hostBuild struct {
	once sync.Once
	bin  string
	err  error
}

var rotatorBuild, floorBuild hostBuild

// get builds pkg with the Lambda build's tags and flags, for the host,
// the first time it is called, and answers the binary's path.
func (h *hostBuild) get(t testing.TB, pkg string, env ...string) string {
	t.Helper()
	h.once.Do(func() {
		dir, err := os.MkdirTemp("", "bootstrap")
		if err != nil {
			h.err = err
			return
		}
		h.bin = filepath.Join(dir, "bootstrap")
		h.err = goBuild(moduleRoot(t), h.bin, pkg, append([]string{"CGO_ENABLED=0"}, env...))
	})
	if h.err != nil {
		t.Fatalf("build %s: %v", pkg, h.err)
	}
	return h.bin
}

// moduleRoot walks up from the package directory to go.mod.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// buildRotator compiles ./functions/rotator with the Lambda build's tags
// and flags, for the host, once per test binary.
func buildRotator(t testing.TB, env ...string) string {
	t.Helper()
	return rotatorBuild.get(t, "./functions/rotator", env...)
}

// buildFloor compiles testdata/floor, a function that only loads the
// packages the rotator must, as buildRotator compiles the rotator.
func buildFloor(t testing.TB) string {
	t.Helper()
	return floorBuild.get(t, "./internal/localstack/testdata/floor")
}

// goBuild compiles pkg as the Lambda build does, for the host (env may
// set GOOS and GOARCH).
func goBuild(root, out, pkg string, env []string) error {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return errors.New(string(b))
	}
	return nil
}

func TestBuiltBinaryRotatesThroughTheRuntimeAPI(t *testing.T) {
	bin := buildRotator(t)
	w := newWorld(t, func(c *localstack.Config) { c.Bootstrap = bin })
	previous := w.user
	for i := range 3 {
		version := w.rotate()
		w.mustSucceed(version)
		gotVersion, value := w.current()
		if gotVersion != version {
			t.Fatalf("rotation %d: AWSCURRENT is %s, want %s", i+1, gotVersion, version)
		}
		if w.stack.Aiven.Authenticates(previous.Token) {
			t.Fatalf("rotation %d: the token it replaced still authenticates", i+1)
		}
		if !w.stack.Aiven.Authenticates(value.Token.Reveal()) {
			t.Fatalf("rotation %d: the new token does not authenticate", i+1)
		}
		if live := w.liveTokens(); len(live) != 1 {
			t.Fatalf("rotation %d: %d live tokens, want 1", i+1, len(live))
		}
		previous.Token = value.Token.Reveal()
	}
	// The binary's own log lines (JSON, through lambdacontext) reached the
	// output, and named no token.
	if !bytes.Contains([]byte(w.logs.String()), []byte(`"step":"finishSecret"`)) {
		t.Fatalf("no finishSecret log line from the binary in:\n%s", w.logs.String())
	}
	w.assertNoSecretsLeaked()
}

func TestBuiltBinaryReportsABadConfigurationAtInit(t *testing.T) {
	bin := buildRotator(t)
	_, err := localstack.Start(t.Context(), localstack.Config{
		SecretsManagerAddr: "127.0.0.1:0",
		AivenAddr:          "127.0.0.1:0",
		Bootstrap:          bin,
		RotatorEnv:         map[string]string{"AIVEN_WEB_URL": "https://api.attacker.example"},
	})
	var fe *lambdaruntime.FunctionError
	if !errors.As(err, &fe) || fe.Type != "Runtime.ConfigError" {
		t.Fatalf("err = %v, want the function's init error through /runtime/init/error", err)
	}
	wantErr(t, err, "AIVEN_WEB_URL")
	wantErr(t, err, "api.attacker.example")
}

// BenchmarkColdStart measures, per start of the built rotator, the time
// from starting the process to its first request for an event; and the
// same, off the clock, for the floor (testdata/floor: the mandated
// packages loaded, nothing done). start/floor is the median of the ratio
// of each rotator start to the floor start beside it, the two taken in
// turn, first one then the other first, so that both see the machine
// alike: 1 is a rotator whose own packages and init cost nothing.
func BenchmarkColdStart(b *testing.B) {
	bin, floor := buildRotator(b), buildFloor(b)
	env := []string{
		"AIVEN_WEB_URL=http://127.0.0.1:1", "ALLOWED_API_HOSTS=127.0.0.1", "AIVEN_ALLOW_INSECURE_LOOPBACK=true",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
	}
	floorStart := func() time.Duration {
		took, fn := coldStart(b, floor, env)
		fn.Close()
		return took
	}
	var starts, floorStarts []time.Duration
	var ratios []float64
	b.ResetTimer()
	for b.Loop() {
		floorFirst := len(starts)%2 == 1
		var floorTook time.Duration
		if floorFirst {
			b.StopTimer()
			floorTook = floorStart()
			b.StartTimer()
		}
		took, fn := coldStart(b, bin, env)
		b.StopTimer()
		fn.Close()
		if !floorFirst {
			floorTook = floorStart()
		}
		starts, floorStarts = append(starts, took), append(floorStarts, floorTook)
		ratios = append(ratios, float64(took)/float64(floorTook))
		b.StartTimer()
	}
	slices.Sort(ratios)
	b.ReportMetric(float64(median(starts).Microseconds())/1000, "ms/start-median")
	b.ReportMetric(float64(median(floorStarts).Microseconds())/1000, "floor-ms/start-median")
	b.ReportMetric(ratios[len(ratios)/2], "start/floor")
}

// coldStart starts bin and says how long it took to ask for its first
// event.
func coldStart(b *testing.B, bin string, env []string) (time.Duration, *lambdaruntime.Function) {
	begin := time.Now()
	fn, err := lambdaruntime.Start(b.Context(), bin, env)
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(begin), fn
}

// BenchmarkBootstrapSize builds the Lambda artifact exactly as `make build`
// does (linux/arm64) and reports its size and its zip's.
func BenchmarkBootstrapSize(b *testing.B) {
	out := filepath.Join(b.TempDir(), "bootstrap")
	if err := goBuild(moduleRoot(b), out, "./functions/rotator", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	var zipped bytes.Buffer
	for b.Loop() {
		zipped.Reset()
		zw := zip.NewWriter(&zipped)
		f, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(f, bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw)), "bootstrap-bytes")
	b.ReportMetric(float64(zipped.Len()), "zip-bytes")
}

// BenchmarkRotationPeakRSS runs full rotations through the built binary
// and reports its peak resident memory.
func BenchmarkRotationPeakRSS(b *testing.B) {
	bin := buildRotator(b)
	var peaks []float64
	for b.Loop() {
		b.StopTimer()
		stack, err := localstack.Start(b.Context(), localstack.Config{SecretsManagerAddr: "127.0.0.1:0", AivenAddr: "127.0.0.1:0", Bootstrap: bin})
		if err != nil {
			b.Fatal(err)
		}
		user, err := stack.Aiven.CreateUser("bench@example.com")
		if err != nil {
			b.Fatal(err)
		}
		sm := stack.SecretsManagerClient()
		arn := createSecret(b, sm, user.Token)
		b.StartTimer()
		rotateOnce(b, sm, arn)
		b.StopTimer()
		kib, err := stack.Rotator.(*lambdaruntime.Function).PeakRSSKiB()
		if err != nil {
			b.Fatal(err)
		}
		stack.Close()
		peaks = append(peaks, float64(kib)/1024)
		b.StartTimer()
	}
	sort.Float64s(peaks)
	b.ReportMetric(peaks[len(peaks)-1], "peak-rss-MB")
}

func createSecret(b *testing.B, sm *secretsmanager.Client, token string) string {
	out, err := sm.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("aiven/bench"), SecretString: aws.String(token)})
	if err != nil {
		b.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func rotateOnce(b *testing.B, sm *secretsmanager.Client, arn string) {
	out, err := sm.RotateSecret(b.Context(), &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(arn),
		RotationLambdaARN: aws.String(localstack.FunctionARN),
	})
	if err != nil {
		b.Fatal(err)
	}
	current, err := sm.GetSecretValue(b.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		b.Fatal(err)
	}
	if aws.ToString(current.VersionId) != aws.ToString(out.VersionId) {
		b.Fatal("the rotation did not complete")
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
