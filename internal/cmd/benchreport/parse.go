package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// report is everything read from one `go test -bench` run.
type report struct {
	GOOS, GOARCH, CPU string
	Packages          []*pkgResults // in input order
}

type pkgResults struct {
	Path       string
	Benchmarks []*benchmark // in input order
}

// benchmark holds every run of one benchmark (one per -count), each a map
// from unit ("ns/op", "B/op", "ms/start-median", …) to value.
type benchmark struct {
	Name string // without the -GOMAXPROCS suffix
	Runs []map[string]float64
}

// median of unit over the runs that reported it; ok=false if none did.
func (b *benchmark) median(unit string) (float64, bool) {
	var vs []float64
	for _, r := range b.Runs {
		if v, ok := r[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return vs[len(vs)/2], true
}

// procsSuffix is the "-8" go test appends when GOMAXPROCS > 1; stripping
// it lets runs on different machines share names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads go test's benchmark output. Lines that are not headers or
// results (PASS, ok, --- BENCH and the benchmark's own log lines) are
// skipped. It fails on a result line it cannot read, so a broken run does
// not quietly produce a report with holes.
func parse(r io.Reader) (*report, error) {
	rep := &report{}
	var pkgPath string
	var pkg *pkgResults // created at its first result: a header alone adds no table
	byName := map[string]*benchmark{}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if key, value, ok := header(line); ok {
			switch key {
			case "goos":
				rep.GOOS = value
			case "goarch":
				rep.GOARCH = value
			case "cpu":
				rep.CPU = value
			case "pkg":
				pkgPath, pkg = value, nil
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // a log line that happens to start with "Benchmark"
		}
		if len(fields)%2 != 0 {
			return nil, fmt.Errorf("line %d: a value without a unit: %q", lineNo, line)
		}
		run := map[string]float64{}
		for i := 2; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", lineNo, fields[i+1], err)
			}
			run[fields[i+1]] = v
		}
		if pkg == nil {
			pkg = rep.pkg(pkgPath)
			byName = map[string]*benchmark{}
			for _, b := range pkg.Benchmarks {
				byName[b.Name] = b
			}
		}
		name := procsSuffix.ReplaceAllString(fields[0], "")
		b, ok := byName[name]
		if !ok {
			b = &benchmark{Name: name}
			byName[name] = b
			pkg.Benchmarks = append(pkg.Benchmarks, b)
		}
		b.Runs = append(b.Runs, run)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rep.Packages) == 0 {
		return nil, errors.New("no benchmark results in the input")
	}
	return rep, nil
}

// header splits "goos: linux"-style lines.
func header(line string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(line, ": ")
	switch key {
	case "goos", "goarch", "pkg", "cpu":
		return key, strings.TrimSpace(value), ok
	}
	return "", "", false
}

// pkg returns the package's results, creating them on first sight; a
// package whose header repeats (go test -count with several runs) merges.
func (rep *report) pkg(path string) *pkgResults {
	for _, p := range rep.Packages {
		if p.Path == path {
			return p
		}
	}
	p := &pkgResults{Path: path}
	rep.Packages = append(rep.Packages, p)
	return p
}
