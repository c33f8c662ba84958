# The test command of the README, also what CI runs (.ci/run calls `make test`).
# It installs the tools it needs, so it works on a fresh clone.

GO          ?= go
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION ?= v0.8.2

.PHONY: test deps check fmt vet staticcheck cross unit build release image cluster bench-mmsim bench-agent seed-curl

# Programs the tests run, installed from the distribution when missing (CI starts bare).
APT_TOOLS ?= curl prometheus chromium podman

test: deps check cross unit

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

# The packages build on the other systems agents run on (the tests themselves run on linux):
# each operating system and each architecture at least once (none of our code differs by
# architecture alone: no assembly, no unsafe); make release builds every one of
# RELEASE_TARGETS.
CROSS ?= windows/amd64 darwin/arm64 linux/arm64
cross:
	@for t in $(CROSS); do echo "go vet ./... for $$t"; GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... || exit 1; done

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

build:
	$(GO) build -buildvcs=auto -o bin/ ./cmd/...

# Release archives: the three binaries, static (no cgo), for each target, with the README,
# the default configs and the docs, as dist/loadtest_VERSION_OS_ARCH.tar.gz, and
# dist/SHA256SUMS. VERSION is the git tag or commit (with -dirty for uncommitted changes).
RELEASE_TARGETS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
release:
	@rm -rf dist && mkdir -p dist
	@for t in $(RELEASE_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		name=loadtest_$(VERSION)_$${os}_$${arch}; d=dist/$$name; mkdir -p $$d/config; \
		echo "building $$name"; \
		for c in loadtest coordinator mmsim; do \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto -ldflags "-s -w" -o $$d/$$c$$ext ./cmd/$$c || exit 1; \
		done; \
		cp README.md $$d/ && cp config/*.default.json $$d/config/ && cp -r docs $$d/docs && \
		tar -C dist -czf dist/$$name.tar.gz $$name && rm -rf $$d; \
	done
	@cd dist && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

# The container image (deploy/Containerfile): the three binaries, static, FROM scratch, as a
# non-root user, labelled with the version. CONTAINER is podman, else docker.
CONTAINER ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
IMAGE ?= loadtest:$(VERSION)
image:
	@rm -rf dist/image && mkdir -p dist/image/fs/tmp dist/image/fs/work dist/image/config && chmod 1777 dist/image/fs/tmp
	@tar -C dist/image/fs --owner=0 --group=0 -cf dist/image/tmp.tar tmp
	@tar -C dist/image/fs --owner=65532 --group=65532 -cf dist/image/work.tar work
	@for c in loadtest coordinator mmsim; do \
		CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags "-s -w" -o dist/image/$$c ./cmd/$$c || exit 1; \
	done
	@cp config/*.default.json dist/image/config/ && cp deploy/Containerfile dist/image/
	@cp /etc/ssl/certs/ca-certificates.crt dist/image/ 2>/dev/null || { echo "no /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)"; exit 1; }
	$(CONTAINER) build -q --no-cache -f dist/image/Containerfile --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) -t $(IMAGE) dist/image

# mmsim, three agents joining the coordinator, and Debian's Prometheus, as plain processes
# on this machine: a capacity search through them (scripts/cluster.sh; TestCluster runs it).
cluster:
	scripts/cluster.sh

# Seed 001's curl walkthrough against the real binaries on the seed's ports (4000, 8065).
seed-curl:
	scripts/seed-curl.sh

bench-mmsim: build
	bench/mmsim.sh

bench-agent: build
	bench/agent.sh
