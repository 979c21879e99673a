# The two commands of the README: `make demo` runs Patchbay with local fakes;
# `make test` installs and starts PostgreSQL and chromium, then runs every test.
GO ?= go
RACE_PKGS = ./internal/jobs/... ./internal/transport/... ./internal/connection/... ./internal/fakes/... ./internal/connector/...

.PHONY: demo test test-short vet bench

demo:
	$(GO) run ./cmd/patchbay demo

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)

test: vet
	eval "$$(./scripts/test-env.sh)" && \
	$(GO) test -count=1 -timeout 15m ./... && \
	PATCHBAY_TEST_STORE=postgres $(GO) test -count=1 -timeout 10m ./internal/app/... && \
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)

test-short:
	$(GO) test ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
