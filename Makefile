# The test command of the README, also what CI runs (.ci/run calls `make test`).
# It installs the tools it needs, so it works on a fresh clone.

GO          ?= go
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION ?= v0.8.2

.PHONY: test check fmt vet staticcheck unit build bench-mmsim bench-agent

test: check unit

check: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

build:
	$(GO) build -o bin/ ./cmd/...

bench-mmsim: build
	bench/mmsim.sh

bench-agent: build
	bench/agent.sh
