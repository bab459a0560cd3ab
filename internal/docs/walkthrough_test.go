package docs

// The walkthroughs are executable. TestWalkthroughs reads each page below,
// runs its shell blocks in order in one bash session against a local stack
// it starts in process, and compares what each block prints with the output
// the page shows for it.
//
// The conventions a page follows, so that this test can read it:
//
//   - A ```sh (or ```bash) block is commands; every other block is not run.
//   - The output of a ```sh block is the first ```text block after it and
//     before the next ```sh block. A ```sh block with no ```text block must
//     print nothing (redirect what is of no interest to /dev/null).
//   - In a ```text block, `…` stands for any run of characters within a
//     line. Besides, on both sides before comparing: UUIDs, RFC 3339 times,
//     the six-character suffix of a secret's ARN, Aiven user ids
//     (u2a……), the string values of JSON keys naming a token or prefix
//     ("token", "token_prefix", "full_token", ...) and the lists of
//     "revoked" prefixes are masked, as they differ on every run.
//   - A ```sh block holding only `[VAR=value ...] make localstack` starts
//     the stack, as `make localstack` would with that environment (the
//     variables it reads are mirrored from internal/cmd/localstack: the
//     rotator's settings, LOCALSTACK_SWEEP_EVERY, LOCALSTACK_LATENCY); a
//     second such block stops the first stack and starts a fresh one, as
//     Ctrl-C and a restart would. The page's addresses 127.0.0.1:4566 and
//     127.0.0.1:4567 are replaced by the free ports the test's stack has.
//   - An HTML comment `<!-- not-local -->` on the line before a block
//     marks a block meant only for real AWS: it is skipped, and the test
//     says so.
//
// The test needs bash, the AWS CLI, jq and curl: in CI (CI=true) it fails
// when one is missing; elsewhere it skips, saying which.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack"
)

// walkthroughs are the pages run, each from a fresh stack.
var walkthroughs = []string{"docs/local-stack.md", "docs/application-tokens.md"}

// blockTimeout bounds one block (the longest waits out a 30-second grace).
const blockTimeout = 3 * time.Minute

type block struct {
	line     int    // of the opening fence, 1-based
	lang     string // "sh", "text", ...
	body     string
	notLocal bool
}

// step is a command block with what the page says it prints.
type step struct {
	block
	start    bool              // a `make localstack` block
	startEnv map[string]string // its VAR=value assignments
	expected []string          // nil: must print nothing
	expLine  int
}

// readBlocks returns the fenced blocks of a Markdown page.
func readBlocks(page string) ([]block, error) {
	var out []block
	lines := strings.Split(page, "\n")
	for i := 0; i < len(lines); i++ {
		fence := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(fence, "```") {
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		b := block{line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(fence, "```"))}
		for j := i - 1; j >= 0; j-- {
			if prev := strings.TrimSpace(lines[j]); prev != "" {
				b.notLocal = prev == "<!-- not-local -->"
				break
			}
		}
		var body []string
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			body = append(body, strings.TrimPrefix(lines[j], indent))
		}
		if j == len(lines) {
			return nil, fmt.Errorf("line %d: the block never ends", b.line)
		}
		b.body = strings.Join(body, "\n")
		out = append(out, b)
		i = j
	}
	return out, nil
}

var startLine = regexp.MustCompile(`^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)make localstack\s*(?:#.*)?$`)

// steps pairs each command block with its output block.
func steps(blocks []block) ([]step, error) {
	var out []step
	for _, b := range blocks {
		switch b.lang {
		case "sh", "bash":
			s := step{block: b}
			if m := startLine.FindStringSubmatch(strings.TrimSpace(b.body)); m != nil {
				s.start, s.startEnv = true, map[string]string{}
				for _, kv := range strings.Fields(m[1]) {
					k, v, _ := strings.Cut(kv, "=")
					s.startEnv[k] = v
				}
			}
			out = append(out, s)
		case "text":
			if len(out) == 0 || out[len(out)-1].expected != nil {
				continue // an example, not a block's output
			}
			last := &out[len(out)-1]
			if last.start || last.notLocal {
				return nil, fmt.Errorf("line %d: output shown for the block at line %d, which is not run", b.line, last.line)
			}
			last.expected, last.expLine = strings.Split(b.body, "\n"), b.line
		}
	}
	return out, nil
}

// masks hide what differs on every run; they apply to both sides.
var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<uuid>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)`), "<time>"},
	{regexp.MustCompile(`(:secret:[A-Za-z0-9/_+=.@-]+?)-[A-Za-z0-9]{6}\b`), "$1-<suffix>"},
	{regexp.MustCompile(`\bu2a[0-9a-f]{6}\b`), "<user>"},
	{regexp.MustCompile(`("[a-z_]*(?:token|prefix)[a-z_]*":\s*)"[^"]*"`), `$1"<token>"`},
	{regexp.MustCompile(`("revoked":\s*\[)[^\]]*\]`), "$1<tokens>]"},
}

func mask(s string) string {
	for _, m := range masks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return strings.TrimRight(s, " \t")
}

// matches says whether a line printed matches a line the page shows.
func matches(expected, got string) bool {
	parts := strings.Split(mask(expected), "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`).MatchString(mask(got))
}

// compare returns a description of the first difference, or "".
func compare(expected, got []string) string {
	for i := 0; i < len(expected) || i < len(got); i++ {
		switch {
		case i >= len(got):
			return fmt.Sprintf("output line %d missing: the page shows %q", i+1, expected[i])
		case i >= len(expected):
			return fmt.Sprintf("output line %d not shown on the page: %q", i+1, got[i])
		case !matches(expected[i], got[i]):
			return fmt.Sprintf("output line %d differs:\n  page:    %q\n  printed: %q\n  (masked: %q vs %q)", i+1, expected[i], got[i], mask(expected[i]), mask(got[i]))
		}
	}
	return ""
}

// tools checks the commands the pages use, failing in CI and skipping
// elsewhere when one is missing.
func tools(t *testing.T) {
	var missing []string
	for _, name := range []string{"bash", "aws", "jq", "curl"} {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the walkthroughs need %s, not found on PATH (CI installs them: .ci/run)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("skipped: " + msg)
}

func TestWalkthroughs(t *testing.T) {
	tools(t)
	for _, page := range walkthroughs {
		t.Run(filepath.Base(page), func(t *testing.T) {
			t.Parallel()
			runPage(t, page)
		})
	}
}

func runPage(t *testing.T, page string) {
	raw, err := os.ReadFile(filepath.Join("..", "..", page))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readBlocks(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	all, err := steps(blocks)
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	var stack *localstack.Stack
	var rotatorLog *syncBuffer
	defer func() {
		if stack != nil {
			stack.Close()
		}
	}()
	sh := startShell(t)
	ran, skipped, compared := 0, 0, 0
	for _, s := range all {
		where := fmt.Sprintf("%s:%d", page, s.line)
		switch {
		case s.notLocal:
			skipped++
			t.Logf("%s: skipped, marked not-local (meant for real AWS)", where)
			continue
		case s.start:
			// A restart listens where the first stack did, as
			// `make localstack` always does.
			smAddr, aivenAddr := "127.0.0.1:0", "127.0.0.1:0"
			if stack != nil {
				smAddr, aivenAddr = strings.TrimPrefix(stack.SecretsManagerURL, "http://"), strings.TrimPrefix(stack.AivenURL, "http://")
				stack.Close()
			}
			rotatorLog = &syncBuffer{}
			stack = startStack(t, where, s.startEnv, smAddr, aivenAddr, rotatorLog)
			t.Logf("%s: started the local stack (%s), Secrets Manager %s, Aiven %s", where, envLine(s.startEnv), stack.SecretsManagerURL, stack.AivenURL)
			ran++
			continue
		case stack == nil:
			t.Fatalf("%s: a command block before any `make localstack` block", where)
		}
		script := strings.NewReplacer(
			"127.0.0.1:4566", strings.TrimPrefix(stack.SecretsManagerURL, "http://"),
			"127.0.0.1:4567", strings.TrimPrefix(stack.AivenURL, "http://"),
		).Replace(s.body)
		out, stderr, err := sh.run(script)
		if err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s\nrotator log (last lines):\n%s", where, err, strings.Join(out, "\n"), stderr, tail(rotatorLog.String(), 20))
		}
		ran++
		if s.expected == nil && len(out) > 0 {
			t.Fatalf("%s: the block prints, but the page shows no ```text output after it:\n%s", where, strings.Join(out, "\n"))
		}
		if s.expected != nil {
			compared++
			if diff := compare(s.expected, out); diff != "" {
				t.Fatalf("%s: what the block prints is not what %s:%d shows: %s\nprinted:\n%s\nstderr:\n%s", where, page, s.expLine, diff, strings.Join(out, "\n"), stderr)
			}
		}
	}
	t.Logf("%s: %d blocks run (%d outputs compared), %d skipped as not-local", page, ran, compared, skipped)
}

// startStack starts the stack as `make localstack` does with env, on free
// ports (internal/cmd/localstack's config, mirrored).
func startStack(t *testing.T, where string, env map[string]string, smAddr, aivenAddr string, rotatorLog io.Writer) *localstack.Stack {
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	every := time.Minute
	if v, ok := env["LOCALSTACK_SWEEP_EVERY"]; ok {
		if v == "off" {
			every = 0
		} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			every = d
		} else {
			t.Fatalf("%s: LOCALSTACK_SWEEP_EVERY=%s: want a Go duration or off", where, v)
		}
	}
	var latency time.Duration
	if v, ok := env["LOCALSTACK_LATENCY"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: LOCALSTACK_LATENCY=%s: %v", where, v, err)
		}
		latency = d
	}
	for k := range env {
		known := k == "LOCALSTACK_SWEEP_EVERY" || k == "LOCALSTACK_LATENCY"
		for _, p := range localstack.PassedSettings {
			known = known || k == p
		}
		if !known {
			t.Fatalf("%s: %s is not a variable `make localstack` reads", where, k)
		}
	}
	stack, err := localstack.Start(context.Background(), localstack.Config{
		SecretsManagerAddr: smAddr,
		AivenAddr:          aivenAddr,
		BackgroundRotation: true,
		SweepEvery:         every,
		Latency:            latency,
		RotatorEnv:         localstack.SettingsFrom(lookup),
		RotatorLog:         rotatorLog,
	})
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return stack
}

func envLine(env map[string]string) string {
	if len(env) == 0 {
		return "defaults"
	}
	var parts []string
	for k, v := range env {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

// shell is one bash session: variables and functions carry over from one
// block to the next, as in a reader's terminal.
type shell struct {
	t      *testing.T
	dir    string
	stdin  io.WriteCloser
	lines  chan string
	stderr *syncBuffer
	n      int
}

func startShell(t *testing.T) *shell {
	dir := t.TempDir()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8",
		// The reader's AWS configuration stays out; a pager never runs.
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true",
	}
	if p := os.Getenv("PYENV_ROOT"); p != "" {
		cmd.Env = append(cmd.Env, "PYENV_ROOT="+p)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sh := &shell{t: t, dir: dir, stdin: stdin, lines: make(chan string, 1024), stderr: &syncBuffer{}}
	cmd.Stderr = sh.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			sh.lines <- sc.Text()
		}
		close(sh.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	// A failing command ends the session: the page's commands must succeed.
	fmt.Fprintln(stdin, "set -eo pipefail")
	return sh
}

// run runs a block and returns the lines it printed.
func (sh *shell) run(script string) ([]string, string, error) {
	sh.n++
	file := filepath.Join(sh.dir, fmt.Sprintf(".block-%d.sh", sh.n))
	if err := os.WriteFile(file, []byte(script+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	before := sh.stderr.Len()
	sentinel := fmt.Sprintf("__walkthrough_block_%d_done__", sh.n)
	fmt.Fprintf(sh.stdin, "source %s </dev/null\nprintf '%%s\\n' %s\n", file, sentinel)
	var out []string
	timeout := time.After(blockTimeout)
	for {
		select {
		case line, ok := <-sh.lines:
			if !ok {
				return out, sh.stderr.From(before), fmt.Errorf("a command failed, and the shell exited")
			}
			if prefix, found := strings.CutSuffix(line, sentinel); found {
				if prefix != "" {
					out = append(out, prefix)
				}
				return out, sh.stderr.From(before), nil
			}
			out = append(out, line)
		case <-timeout:
			return out, sh.stderr.From(before), fmt.Errorf("the block still runs after %v", blockTimeout)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) From(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()[i:]
}

func (b *syncBuffer) String() string { return b.From(0) }
