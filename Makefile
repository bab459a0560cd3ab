# aiven-token-rotator: the two commands a newcomer needs are `make demo` and
# `make test`; the rest build, check and ship the Lambda.

GO            ?= go
BIN           := bin
# The Lambda build: static, no RPC shim, reproducible paths, no symbols.
LAMBDA_ENV    := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags "-s -w"
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The race detector needs cgo and a C compiler; without them the tests
# still run, just without it.
RACE          := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

# release: where `make release VERSION=x.y.z` writes its files.
RELEASE_DIR   ?= $(BIN)/release

.PHONY: all help build build-RotatorFunction package release test demo localstack localstack-bootstrap lint bench rotate clean

## all: lint, test and build (what plain `make` runs)
all: lint test build

## help: this list: every target with its one-line description
help:
	@awk '/^## [A-Za-z0-9_.-]+: / { line = substr($$0, 4); i = index(line, ": "); printf "  %-22s %s\n", substr(line, 1, i - 1), substr(line, i + 2) }' $(firstword $(MAKEFILE_LIST))

## build: the arm64 `bootstrap` for provided.al2023, in bin/
build:
	@mkdir -p $(BIN)
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/bootstrap ./functions/rotator

## build-RotatorFunction: called by `sam build` (BuildMethod: makefile)
build-RotatorFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/rotator

## package: bin/rotator.zip, ready to upload as the function's code
package: build
	rm -f $(BIN)/rotator.zip
	cd $(BIN) && zip -q -X rotator.zip bootstrap
	@ls -l $(BIN)/bootstrap $(BIN)/rotator.zip

## release: bin/release/ with a reproducible zip, its SHA-256, and a template.yaml that deploys the zip as shipped, e.g. make release VERSION=1.2.3
# -buildvcs=false: the same bytes from a git checkout and from a source
# tarball of the tag.
release:
	@echo "$(VERSION)" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$$' || { echo "usage: make release VERSION=x.y.z (no leading v)" >&2; exit 2; }
	@mkdir -p $(RELEASE_DIR)
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -buildvcs=false -o $(RELEASE_DIR)/bootstrap ./functions/rotator
	$(GO) run ./internal/cmd/release -version "$(VERSION)" -bootstrap $(RELEASE_DIR)/bootstrap -template template.yaml -out $(RELEASE_DIR) LICENSE
	@rm -f $(RELEASE_DIR)/bootstrap

## test: every test (unit, emulators, end to end, template, built binary), under the race detector where it can run
test:
	$(GO) test $(RACE) -count=1 -parallel 16 ./...

## fuzz: every Fuzz* target in the module, each for FUZZTIME (default 10s), stopping at the first failure
# Targets are found by `go test -list`, so a new one needs no edit here. The
# corpus the fuzzer grows lives in the build cache ($(go env GOCACHE)/fuzz);
# a failing input lands in the package's testdata/fuzz/, to keep as a
# regression seed or to delete once fixed.
FUZZTIME      ?= 10s
.PHONY: fuzz
fuzz:
	@mkdir -p $(BIN)
	@$(GO) test -list '^Fuzz' ./... > $(BIN)/fuzz-list || { cat $(BIN)/fuzz-list; exit 1; }
	@awk '/^Fuzz/ { n = n " " $$1; next } /^ok/ { if (n != "") print $$2 n; n = "" }' $(BIN)/fuzz-list > $(BIN)/fuzz-targets
	@test -s $(BIN)/fuzz-targets || { echo "make fuzz: no Fuzz targets found" >&2; exit 1; }
	@while read -r pkg names; do \
	  for name in $$names; do \
	    echo "== $$name ($$pkg) for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
	  done; \
	done < $(BIN)/fuzz-targets

## demo: three real rotations on the in-process local stack
# Built first, with a word, because a cold build cache takes about a minute
# and `go run` says nothing meanwhile; warm, the build is a cache hit.
demo:
	@mkdir -p $(BIN)
	@echo "compiling the demo (first run: about a minute)..."
	@$(GO) build -o $(BIN)/demo ./internal/cmd/demo
	@$(BIN)/demo

## localstack: both emulators and the rotator in the foreground (Ctrl-C stops)
localstack:
	$(GO) run ./internal/cmd/localstack

## localstack-bootstrap: the same, with the built rotator behind a Lambda Runtime API
localstack-bootstrap:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o $(BIN)/bootstrap-host ./functions/rotator
	LOCALSTACK_BOOTSTRAP=$(BIN)/bootstrap-host $(GO) run ./internal/cmd/localstack

## lint: formatting, go vet, staticcheck
lint:
	@unformatted=$$(gofmt -l functions internal); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: benchmarks, figures written to docs/PERFORMANCE.md
bench:
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench . -skip LargeAccount -benchmem -count=5 ./... | tee $(BIN)/bench.txt
	@# 100,000 secrets take minutes to seed and sweep: one run.
	$(GO) test -run '^$$' -bench LargeAccount -benchmem -count=1 -timeout 30m ./internal/localstack/ | tee -a $(BIN)/bench.txt
	$(GO) run ./internal/cmd/benchreport < $(BIN)/bench.txt > docs/PERFORMANCE.md
	@echo "wrote docs/PERFORMANCE.md"

## rotate: on-demand rotation of a deployed secret, e.g. make rotate SECRET_ID=aiven/api-token
rotate:
	@test -n "$(SECRET_ID)" || { echo "usage: make rotate SECRET_ID=<secret name or ARN>" >&2; exit 2; }
	aws secretsmanager rotate-secret --secret-id "$(SECRET_ID)"

## clean: remove bin/ and .aws-sam/
clean:
	rm -rf $(BIN) .aws-sam
