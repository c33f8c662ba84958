# The test command of the README, also what CI runs (.ci/run calls `make test`).
# It installs the tools it needs, so it works on a fresh clone.

GO          ?= go
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION ?= v0.8.2

.PHONY: test deps check fmt vet staticcheck unit build bench-mmsim bench-agent seed-curl

# Programs the tests run, installed from the distribution when missing (CI starts bare).
APT_TOOLS ?= curl prometheus chromium

test: deps check unit

deps:
	@missing=""; for p in $(APT_TOOLS); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@# Mattermost's official JavaScript client, pinned by scripts/jsclient/package-lock.json,
	@# for TestOfficialJSClient (mmsim's WebSocket as the webapp speaks it).
	@command -v npm >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	@[ -d scripts/jsclient/node_modules/@mattermost/client ] || (cd scripts/jsclient && npm ci --silent --no-audit --no-fund)

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
	$(GO) build -buildvcs=auto -o bin/ ./cmd/...

# Seed 001's curl walkthrough against the real binaries on the seed's ports (4000, 8065).
seed-curl:
	scripts/seed-curl.sh

bench-mmsim: build
	bench/mmsim.sh

bench-agent: build
	bench/agent.sh
