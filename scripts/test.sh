#!/usr/bin/env bash
# The whole test suite, as CI runs it, on a fresh Debian machine: installs what
# the tests need (Debian packages, pinned Go tools), then formats, vets, lints,
# runs every test with the race detector, fuzzes each decoder briefly,
# checks the generated CLI reference is current, and builds a snapshot
# release for all six targets the way a release is built (archives, deb and
# rpm, SBOMs, package manifests, signed checksums), checks what it made,
# installs the deb, and builds it again to prove the build reproducible.
# Tests that need a tool or server fail, never skip, here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export XFER_STRICT=1
FUZZTIME=${FUZZTIME:-15s}

step "installing Debian packages"
install_debian_tools
# jq reads goreleaser's output, gpg signs and gpgv verifies the checksums,
# rpm lists the rpm package, systemd-analyze checks the packaged units.
install_missing jq:jq gpg:gnupg gpgv:gpgv rpm:rpm systemd-analyze:systemd

step "installing Go tools"
install_go_tools
install_goreleaser
install_cyclonedx_gomod

step "building the S3 servers the tests run against (pinned, cached)"
go run ./internal/testkit/s3test/cmd/buildservers

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
go run ./internal/cmd/gendocs -out docs/cli -man docs/man -events docs/events.md -check

step "go test -race"
go test -race -count=1 -timeout 60m ./...

step "fuzzing each target for $FUZZTIME"
fuzz_all "$FUZZTIME"

step "a go build records the commit (what a go install reports)"
check_vcs_stamp

step "snapshot release: linux, darwin, windows × amd64, arm64; deb, rpm, SBOMs, manifests, signed checksums"
"$GORELEASER" check
goreleaser_remote
signing_key
"$GORELEASER" release --snapshot --clean --skip=publish
check_snapshot dist "$(git rev-parse HEAD)"

step "reproducible: the same commit built again"
first=$(mktemp -d)
mv dist "$first/dist"
"$GORELEASER" release --snapshot --clean --skip=publish,sign >"$first/second-build.log" 2>&1 || { cat "$first/second-build.log"; exit 1; }
check_reproducible "$first/dist" dist
gpgconf --kill gpg-agent # the throwaway key's agent
rm -rf "$first" "$GNUPGHOME"

step "all checks passed"
