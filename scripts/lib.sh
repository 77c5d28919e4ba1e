# Shared by the project's scripts. Versions are pinned: the Go module proxy
# here serves a fixed set, and a moving @latest breaks fresh machines.
STATICCHECK_VERSION=v0.7.0
TOOLBIN=${TOOLBIN:-$PWD/.cache/bin}

step() { printf '\n== %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# install_debian_tools installs the peers the interop tests run: 7-Zip,
# bsdtar and age.
install_debian_tools() {
	local need=()
	command -v 7zz >/dev/null || need+=(7zip)
	command -v bsdtar >/dev/null || need+=(libarchive-tools)
	command -v age >/dev/null || need+=(age)
	if [ ${#need[@]} -gt 0 ]; then
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
	fi
	7zz i >/dev/null && bsdtar --version | head -1 && age --version
}

install_go_tools() {
	mkdir -p "$TOOLBIN"
	if ! "$TOOLBIN/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
		GOBIN="$TOOLBIN" GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	fi
	"$TOOLBIN/staticcheck" -version
}

# check_imports keeps the architecture: the AWS SDK only in the S3 store, and
# no SDK or crypto primitives in the command layer.
check_imports() {
	local bad
	bad=$(go list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... |
		grep -v '^github.com/xfer-dev/xfer/transfer/s3store' |
		grep -v '^github.com/xfer-dev/xfer/internal/s3test' |
		grep 'github.com/aws/' || true)
	if [ -n "$bad" ]; then echo "only transfer/s3store may import the AWS SDK:"; echo "$bad"; return 1; fi
	bad=$(go list -f '{{.ImportPath}}: {{join .Imports " "}}' ./cmd/... | grep -E 'crypto/(aes|cipher|hmac|sha1)' || true)
	if [ -n "$bad" ]; then echo "cmd must not use crypto primitives:"; echo "$bad"; return 1; fi
	echo "import rules hold"
}

# fuzz_all runs every Fuzz target of every package for a fixed time.
fuzz_all() {
	local fuzztime=$1 pkg name
	for pkg in $(go list ./...); do
		for name in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
			echo "fuzz $pkg $name"
			go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime=5s "$pkg" >/tmp/xfer-fuzz.log 2>&1 || { cat /tmp/xfer-fuzz.log; return 1; }
			tail -1 /tmp/xfer-fuzz.log
		done
	done
}

# build_servers builds (or finds cached) the pinned MinIO and versitygw and
# exports XFER_TEST_BIN, so that s3serve finds them even when a script
# changes XDG_CACHE_HOME. The first build takes minutes; LOG gets its output.
build_servers() {
	local log=$1 servers
	servers=$(go run ./internal/s3test/cmd/buildservers 2>"$log") || { cat "$log"; return 1; }
	XFER_TEST_BIN=$(dirname "$(dirname "$(echo "$servers" | sed -n 's/^minio=//p')")")
	export XFER_TEST_BIN
	echo "servers: $(echo "$servers" | sed 's|=.*/\([^/]*\)/[^/]*$|=\1|' | tr '\n' ' ')"
}

# start_s3serve NAME DIR: runs s3serve (on PATH) for server NAME in the
# background with its data under DIR/NAME, and waits for DIR/NAME.env, the
# NAME=VALUE lines a client needs. Sets S3SERVE_PID. s3serve stops the
# server when killed, and by itself when the calling shell exits.
start_s3serve() {
	local name=$1 dir=$2 i
	s3serve -server "$name" -dir "$dir/$name" -env "$dir/$name.env" 2>>"$dir/$name.log" &
	S3SERVE_PID=$!
	for i in $(seq 600); do
		[ -f "$dir/$name.env" ] && return 0
		kill -0 "$S3SERVE_PID" 2>/dev/null || break
		sleep 0.2
	done
	cat "$dir/$name.log"
	echo "$name did not start"
	return 1
}

# The harness of the acceptance scripts. acceptance_begin sets work (WORK,
# or a new temporary directory) and a trap that stops every pid added to
# bgpids and removes work unless KEEP is set; result adds a row to the
# summary that print_summary prints, as a Markdown table, at the end.
acceptance_begin() {
	work=${WORK:-$(mktemp -d)}
	mkdir -p "$work"
	bgpids=()
	failed=0
	summary=()
	trap acceptance_cleanup EXIT
}
# shellcheck disable=SC2317 # run by the trap
acceptance_cleanup() {
	local p
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${bgpids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
# result CHECK MEASURED TARGET OK|FAIL|INFO: one row of the final table.
result() {
	summary+=("| $1 | $2 | $3 | $4 |")
	[ "$4" != FAIL ] || failed=1
}
# print_summary: the table of results; the exit status says whether any failed.
print_summary() {
	step "summary"
	echo "| check | measured | target | result |"
	echo "|---|---|---|---|"
	printf '%s\n' "${summary[@]}"
	if [ "$failed" = 0 ]; then echo "all checks passed"; else echo "SOME CHECKS FAILED"; fi
	return "$failed"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
