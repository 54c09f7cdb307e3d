# mcasload — every build, test and vet needs cgo and the duckdb_arrow tag.
export GOFLAGS := -tags=duckdb_arrow -buildvcs=false
export CGO_ENABLED := 1

BIN     := bin/mcasload
PKGS    := ./...
DEMO_DIR ?= demo-warehouse
DIST    ?= dist

# The build stamp `mcasload --version` prints.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)
# cgo links with -rdynamic, which exports every symbol of DuckDB's static library: a 6 MB dynamic
# symbol table the loader reads at every start. Keeping the archives' symbols local cuts it to
# ~60 KB and the resident binary by ~5 MiB (docs/benchmarks.md, "The mapped binary"). GNU ld
# only, so Linux builds only.
ifeq ($(shell go env GOOS),linux)
LDFLAGS    += -extldflags=-Wl,--exclude-libs,ALL
endif

.PHONY: all build man test test-short servers demo bench reliability lint vet fmt clean release

all: build

build:
	go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mcasload

# The manual page, generated from the command tree: man -l bin/mcasload.1, or install it in
# /usr/local/share/man/man1/.
man: build
	$(BIN) man > bin/mcasload.1

# Release archives for linux/amd64 and linux/arm64 (the arm64 cgo build needs Debian's
# gcc-aarch64-linux-gnu and libstdc++-12-dev-arm64-cross) with SHA256SUMS, LICENSE and third-party notices in $(DIST); then the
# release test: checksums, contents, ELF machine of each binary, and docs/install.md's archive
# steps run verbatim on this machine's archive (--version, demo).
release:
	VERSION=$(VERSION) COMMIT=$(COMMIT) BUILD_DATE=$(BUILD_DATE) DIST=$(DIST) ./packaging/release.sh
	MCASLOAD_DIST=$(abspath $(DIST)) go test -count=1 -timeout 20m -v -run 'TestRelease' ./packaging/

# The whole suite, as CI runs it.
test:
	go test -count=1 -timeout 45m $(PKGS)

test-short:
	go test -short -count=1 $(PKGS)

# The real servers some tests start (Azurite, versitygw, rsyslog), pinned: docs/testing.md.
# Without them those tests skip locally and fail in CI.
servers:
	.ci/install-test-servers

# The demo: build, start the simulator in-process, load the warehouse, run investigations.
demo: build
	$(BIN) demo --warehouse $(DEMO_DIR)

bench: build
	go run ./bench/cmd/benchtable --bin $(BIN) $(BENCHFLAGS)

# Every benchmark at toy sizes (seconds; figures printed, never asserted). Also in `make test`.
.PHONY: bench-smoke
bench-smoke:
	go test -count=1 -v -run 'TestSmoke' ./bench/

# The long reliability suite (docs/reliability.md), then the simulated week of issue 20 whole and
# with every detection (TestDetectWeek), and the same week SIGKILLed on some nights
# (TestDetectWeekKilled).
reliability:
	MCASLOAD_RELIABILITY=long go test -count=1 -timeout 60m -run Reliability ./reliability/...
	MCASLOAD_RELIABILITY=long go test -count=1 -timeout 60m -run 'TestDetectWeek' ./cmd/mcasload/

vet:
	go vet $(PKGS)

# gofmt, and no clone of 15 lines or more in product code (internal/clonecheck says where).
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go test -count=1 ./internal/clonecheck/

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin $(DEMO_DIR) $(DIST)
