#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh Debian machine: installs what
# the tests need (Debian packages, pinned Go tools), then formats, vets, lints,
# runs every test with the race detector, fuzzes each decoder briefly,
# checks the generated CLI reference is current, and builds a snapshot
# release for all six targets. Tests that need a tool or server fail, never
# skip, here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export XFER_STRICT=1
FUZZTIME=${FUZZTIME:-15s}

step "installing Debian packages"
install_debian_tools

step "installing Go tools"
install_go_tools
install_goreleaser

step "building the S3 servers the tests run against (pinned, cached)"
go run ./internal/s3test/cmd/buildservers

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt'ed:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

# go vet type-checks each package together with its tests, so this also
# proves every test compiles for Windows (nothing can run it here).
step "go vet for Windows (tests included)"
GOOS=windows GOARCH=amd64 go vet ./...

step "staticcheck"
"$TOOLBIN/staticcheck" ./...

step "import rules"
check_imports

step "CLI reference is current"
go run ./internal/cmd/gendocs -out docs/cli -man docs/man -check

step "go test -race"
go test -race -count=1 -timeout 60m ./...

step "fuzzing each target for $FUZZTIME"
fuzz_all "$FUZZTIME"

step "snapshot release: linux, darwin, windows × amd64, arm64"
"$GORELEASER" check
"$GORELEASER" release --snapshot --clean --skip=publish
check_snapshot dist

step "all checks passed"
