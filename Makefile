# The two commands of the README: `make demo` runs Patchbay with local fakes;
# `make test` installs and starts PostgreSQL and chromium, installs the Node SDKs
# of internal/fakes/sdktest, then runs every test.
GO ?= go
RACE_PKGS = ./internal/jobs/... ./internal/syncer/... ./internal/transport/... ./internal/connection/... ./internal/fakes/... ./internal/connector/... ./internal/health/... ./internal/notify/... ./internal/api/... ./internal/netguard/... ./internal/loadtest/... ./internal/keyrotation/...

.PHONY: demo test test-short vet bench fuzz

demo:
	$(GO) run ./cmd/patchbay demo

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)

test: vet
	eval "$$(./scripts/test-env.sh)" && \
	$(GO) test -count=1 -timeout 15m ./... && \
	PATCHBAY_TEST_STORE=postgres $(GO) test -count=1 -timeout 10m ./internal/app/... && \
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS) && \
	FUZZTIME=3s GO=$(GO) ./scripts/fuzz.sh

# Every fuzz target for FUZZTIME each (go test ./... already runs their seed corpora).
fuzz:
	FUZZTIME=$${FUZZTIME:-10s} GO=$(GO) ./scripts/fuzz.sh

test-short:
	$(GO) test ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
