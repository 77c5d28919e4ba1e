#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh Debian machine: installs what
# the tests need (Debian packages, pinned Go tools), then formats, vets, lints,
# runs every test with the race detector, fuzzes each decoder briefly, and
# cross-builds. Tests that need a tool or server fail, never skip, here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export XFER_STRICT=1
FUZZTIME=${FUZZTIME:-15s}

step "installing Debian packages"
install_debian_tools

step "installing Go tools"
install_go_tools

step "building the S3 servers the tests run against (pinned, cached)"
go run ./internal/s3test/cmd/buildservers

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt'ed:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "staticcheck"
"$TOOLBIN/staticcheck" ./...

step "import rules"
check_imports

step "go test -race"
go test -race -count=1 -timeout 30m ./...

step "fuzzing each target for $FUZZTIME"
fuzz_all "$FUZZTIME"

step "cross-builds"
for target in windows/amd64 darwin/arm64 darwin/amd64 linux/arm64; do
	GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build -trimpath -o /dev/null ./cmd/xfer
	echo "built $target"
done

step "all checks passed"
