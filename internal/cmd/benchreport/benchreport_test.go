package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testdata/captured.txt is real `go test -bench . -benchmem -count=3`
// output (go1.26, a throwaway package with a benchmark that logs and
// reports custom metrics). testdata/bench.txt has the same format with the
// project's benchmark names and packages, written before the benchmarks
// existed; it exercises several packages, sub-benchmarks and a target
// that fails.

type wantBench struct {
	pkg, name string
	runs      int
	medians   map[string]float64
}

func TestParse(t *testing.T) {
	const mod = "github.com/aiven-token-rotator/aiven-token-rotator/"
	tests := []struct {
		name     string
		file     string // in testdata, or
		input    string // inline
		machine  [3]string
		packages []string
		benches  []wantBench
		wantErr  string
	}{
		{
			name:     "captured go1.26 output",
			file:     "captured.txt",
			machine:  [3]string{"linux", "amd64", "AMD EPYC"},
			packages: []string{"bx"},
			benches: []wantBench{
				{"bx", "BenchmarkSprintf", 3, map[string]float64{"ns/op": 61.28, "B/op": 2, "allocs/op": 1}},
				{"bx", "BenchmarkStart", 3, map[string]float64{"ns/op": 1.124, "ms/start-median": 12.5, "bootstrap-bytes": 9123456}},
			},
		},
		{
			name:     "several packages",
			file:     "bench.txt",
			machine:  [3]string{"linux", "arm64", "Neoverse-N1"},
			packages: []string{mod + "functions/rotator", mod + "internal/aivenemulator", mod + "internal/smemulator"},
			benches: []wantBench{
				{mod + "functions/rotator", "BenchmarkColdStart", 3, map[string]float64{"ms/start-median": 12.5, "peak-rss-MB": 18.4, "ns/op": 231e6}},
				{mod + "internal/aivenemulator", "BenchmarkUserInfo/cold", 3, map[string]float64{"ns/op": 250000}},
				{mod + "internal/smemulator", "BenchmarkGetSecretValue", 3, map[string]float64{"ns/op": 60000, "B/op": 6100}},
			},
		},
		{
			name: "no pkg header, GOMAXPROCS 1 (no suffix), even count",
			input: "BenchmarkX \t 10\t 100 ns/op\n" +
				"BenchmarkX \t 10\t 300 ns/op\n",
			packages: []string{""},
			benches:  []wantBench{{"", "BenchmarkX", 2, map[string]float64{"ns/op": 200}}},
		},
		{
			name: "a package header repeated later merges runs",
			input: "pkg: a\nBenchmarkX-2\t1\t1 ns/op\npkg: b\nBenchmarkY-2\t1\t5 ns/op\n" +
				"pkg: a\nBenchmarkX-2\t1\t3 ns/op\nBenchmarkX-2\t1\t2 ns/op\n",
			packages: []string{"a", "b"},
			benches:  []wantBench{{"a", "BenchmarkX", 3, map[string]float64{"ns/op": 2}}},
		},
		{
			name:    "a log line starting with Benchmark is not a result",
			input:   "BenchmarkX-2 took a while\nBenchmarkX-2\t1\t7 ns/op\n",
			benches: []wantBench{{"", "BenchmarkX", 1, map[string]float64{"ns/op": 7}}},
		},
		{name: "empty input", input: "PASS\nok  \tx\t0.1s\n", wantErr: "no benchmark results"},
		{name: "unreadable value", input: "BenchmarkX-2\t1\tfast ns/op\n", wantErr: "line 1"},
		{name: "value without unit", input: "BenchmarkX-2\t1\t5 ns/op\t7\n", wantErr: "without a unit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := tc.input
			if tc.file != "" {
				data, err := os.ReadFile(filepath.Join("testdata", tc.file))
				if err != nil {
					t.Fatal(err)
				}
				input = string(data)
			}
			rep, err := parse(strings.NewReader(input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.machine != [3]string{} {
				if got := [3]string{rep.GOOS, rep.GOARCH, rep.CPU}; got != tc.machine {
					t.Errorf("machine = %v, want %v", got, tc.machine)
				}
			}
			if tc.packages != nil {
				var got []string
				for _, p := range rep.Packages {
					got = append(got, p.Path)
				}
				if strings.Join(got, ",") != strings.Join(tc.packages, ",") {
					t.Errorf("packages = %v, want %v", got, tc.packages)
				}
			}
			for _, wb := range tc.benches {
				bm := find(rep, wb.pkg, wb.name)
				if bm == nil {
					t.Errorf("%s %s: not parsed", wb.pkg, wb.name)
					continue
				}
				if len(bm.Runs) != wb.runs {
					t.Errorf("%s: %d runs, want %d", wb.name, len(bm.Runs), wb.runs)
				}
				for unit, want := range wb.medians {
					if got, ok := bm.median(unit); !ok || got != want {
						t.Errorf("%s: median %s = %v (%v), want %v", wb.name, unit, got, ok, want)
					}
				}
			}
		})
	}
}

func find(rep *report, pkg, name string) *benchmark {
	for _, p := range rep.Packages {
		for _, b := range p.Benchmarks {
			if p.Path == pkg && b.Name == name {
				return b
			}
		}
	}
	return nil
}

func TestRender(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := parse(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	date := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := render(&out, rep, host{NumCPU: 4, GoVersion: "go1.26.8", Date: date}); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{
		"- Machine: linux/arm64, Neoverse-N1, 4 CPUs\n",
		"- Go: go1.26.8\n",
		"- Date: 2025-06-01\n",
		// Targets: medians against limits, and the one nobody measured.
		"| emulator call | `BenchmarkGetSecretValue` | 60 µs/op | < 200 µs/op | pass |\n",
		"| emulator call | `BenchmarkAccessTokenCreate` | 85.2 µs/op | < 200 µs/op | pass |\n",
		"| emulator call | `BenchmarkUserInfo/cold` | 250 µs/op | < 200 µs/op | fail |\n",
		"| cold start | `BenchmarkColdStart` | 12.5 ms | < 20 ms | pass |\n",
		"| bootstrap size | `BenchmarkColdStart` | 9.12 MB | < 15 MB | pass |\n",
		"| peak RSS | `BenchmarkColdStart` | 18.4 MB | < 30 MB | pass |\n",
		"| zip size | any reporting `zip-bytes` | | < 6 MB | not measured |\n",
		// A table per package, custom metrics as extra columns.
		"## `github.com/aiven-token-rotator/aiven-token-rotator/internal/smemulator`\n",
		"| benchmark | runs | µs/op | B/op | allocs/op | bootstrap-bytes | floor-ms/start-median | ms/start-median | peak-rss-MB | start/floor |\n",
		"| `BenchmarkColdStart` | 3 | 231000 | 10240 | 80 | 9123456 | 11.1 | 12.5 | 18.4 | 1.12 |\n",
		// The cold start over the floor's, in words, from the one run
		// that reported it.
		"The rotator's start is 1.12× the floor's (`start/floor`, the median of the ratios of the starts side by side; 12.5 ms against 11.1 ms)",
		"| `BenchmarkPutSecretValue` | 3 | 71 | 8200 | 95 |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n%s", want, md)
		}
	}
	if strings.Count(md, "BenchmarkPutSecretValue` | 3") != 1 {
		t.Errorf("PutSecretValue should have one package row:\n%s", md)
	}
}

// A target whose benchmark did not run must say so rather than pass.
func TestRenderNotMeasured(t *testing.T) {
	rep, err := parse(strings.NewReader("pkg: x\nBenchmarkOther-2\t1\t5 ns/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := render(&out, rep, host{NumCPU: 1, GoVersion: "go", Date: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "| not measured |"); n != len(targets) {
		t.Errorf("%d targets not measured, want all %d:\n%s", n, len(targets), out.String())
	}
	if !strings.Contains(out.String(), "Not measured: no benchmark reported `start/floor`.") {
		t.Errorf("no word that the floor was not measured:\n%s", out.String())
	}
	if strings.Contains(out.String(), "| pass |") {
		t.Errorf("a pass with nothing measured:\n%s", out.String())
	}
}

// The sweep's rows: its wall time in seconds, and counts that pass at
// their limit ("≤ 70") and fail above it.
func TestRenderSweepTargets(t *testing.T) {
	in := "pkg: github.com/aiven-token-rotator/aiven-token-rotator/internal/localstack\n" +
		"BenchmarkSweepFleet-2\t1\t4210000000 ns/op\t1.000 aiven-calls/secret\t70.00 sm-calls\t65.00 sweep-peak-rss-MB\n"
	rep, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := render(&out, rep, host{NumCPU: 2, GoVersion: "go", Date: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| sweep wall time | `BenchmarkSweepFleet` | 4.21 s | ≤ 10 s | pass |\n",
		"| sweep Secrets Manager calls | `BenchmarkSweepFleet` | 70 | ≤ 70 | pass |\n",
		"| sweep Aiven calls per secret | `BenchmarkSweepFleet` | 1 | ≤ 1 | pass |\n",
		"| sweep peak RSS | `BenchmarkSweepFleet` | 65 MB | ≤ 64 MB | fail |\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q\n%s", want, out.String())
		}
	}
}
