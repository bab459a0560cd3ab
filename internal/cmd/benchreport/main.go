// Command benchreport turns `go test -bench -benchmem` output (any -count,
// any number of packages) read on stdin into the Markdown of
// docs/PERFORMANCE.md on stdout: the machine, a table per package with
// medians, and the project's performance targets with pass or fail.
//
//	go test -run '^$' -bench . -benchmem -count=5 ./... > bin/bench.txt
//	go run ./internal/cmd/benchreport < bin/bench.txt > docs/PERFORMANCE.md
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	rep, err := parse(os.Stdin)
	if err == nil {
		err = render(os.Stdout, rep, host{
			NumCPU:    runtime.NumCPU(),
			GoVersion: runtime.Version(),
			Date:      time.Now().UTC(),
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}
