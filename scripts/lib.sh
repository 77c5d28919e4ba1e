# Shared by the project's scripts. Versions are pinned: the Go module proxy
# here serves a fixed set, and a moving @latest breaks fresh machines.
STATICCHECK_VERSION=v0.7.0
TOOLBIN=${TOOLBIN:-$PWD/.cache/bin}

# step NAME: a heading, with the seconds since the script began, so that a
# CI log says where its time went.
step() { printf '\n== %s (at %ds)\n' "$*" "$SECONDS"; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# install_missing CMD:PACKAGE...: installs with apt-get the Debian PACKAGE
# of each CMD that is missing (a CMD given as a path must be executable).
install_missing() {
	local need=() p cmd
	for p in "$@"; do
		cmd=${p%%:*}
		if [[ $cmd == /* ]]; then
			[ -x "$cmd" ] && continue
		else
			command -v "$cmd" >/dev/null && continue
		fi
		need+=("${p#*:}")
	done
	if [ ${#need[@]} -gt 0 ]; then
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	fi
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
		grep -v '^github.com/xfer-dev/xfer/internal/testkit/s3test' |
		grep 'github.com/aws/' || true)
	if [ -n "$bad" ]; then echo "only transfer/s3store may import the AWS SDK:"; echo "$bad"; return 1; fi
	bad=$(go list -f '{{.ImportPath}}: {{join .Imports " "}}' ./cmd/... | grep -E 'crypto/(aes|cipher|hmac|sha1)' || true)
	if [ -n "$bad" ]; then echo "cmd must not use crypto primitives:"; echo "$bad"; return 1; fi
	bad=$(go list -deps ./exchange/... | grep -E '^github.com/xfer-dev/xfer/cmd|^github.com/aws/' || true)
	if [ -n "$bad" ]; then echo "exchange must depend on neither cmd nor the AWS SDK:"; echo "$bad"; return 1; fi
	bad=$(go list -deps ./seal/... ./screen/... | grep -E '^github.com/xfer-dev/xfer/config$|toml' || true)
	if [ -n "$bad" ]; then echo "sealing must not depend on the configuration file:"; echo "$bad"; return 1; fi
	bad=$(go list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... |
		grep -v -E '^github.com/xfer-dev/xfer/internal/(testkit|cmd)/' |
		grep 'github.com/xfer-dev/xfer/internal/testkit/' || true)
	if [ -n "$bad" ]; then echo "test support (internal/testkit) is for tests and developer tools only:"; echo "$bad"; return 1; fi
	echo "import rules hold"
}

# fuzz_one PKG NAME TIME runs one Fuzz target; its output is in /tmp/xfer-fuzz.log.
fuzz_one() {
	go test -run='^$' -fuzz="^${2}\$" -fuzztime="$3" -fuzzminimizetime=5s "$1" >/tmp/xfer-fuzz.log 2>&1
}

# fuzz_all runs every Fuzz target of every package for a fixed time. Only
# packages with a test file declaring a Fuzz function are asked for their
# targets: go test -list compiles the package's test binary, and a
# fresh machine would otherwise build the 8 test binaries without a target
# (cmd's the largest) for nothing.
fuzz_all() {
	local fuzztime=$1 pkg name
	for pkg in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}:{{.Dir}}{{end}}' ./...); do
		grep -qs '^func Fuzz' "${pkg#*:}"/*_test.go || continue
		pkg=${pkg%%:*}
		for name in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
			echo "fuzz $pkg $name"
			if ! fuzz_one "$pkg" "$name" "$fuzztime"; then
				# Go 1.26's fuzz coordinator can fail a target with a bare
				# "context deadline exceeded" when -fuzztime ends while a
				# starved worker is mid-call (go.dev/issue/75804, fixed in
				# Go 1.27). Only that exact signature, with no failing
				# input written, is run once more; anything else fails.
				if grep -q 'context deadline exceeded' /tmp/xfer-fuzz.log && ! grep -q 'Failing input written' /tmp/xfer-fuzz.log; then
					echo "fuzz $name: coordinator deadline race (go.dev/issue/75804), no failing input: running it once more"
					fuzz_one "$pkg" "$name" "$fuzztime" || { cat /tmp/xfer-fuzz.log; return 1; }
				else
					cat /tmp/xfer-fuzz.log
					return 1
				fi
			fi
			tail -1 /tmp/xfer-fuzz.log
		done
	done
}

# install_s5cmd builds the pinned s5cmd (once; cached in TOOLBIN) and sets
# S5CMD to it. go install M@V wants the module's version list, which the
# proxy here may refuse; a throwaway module builds the same pinned version.
S5CMD_VERSION=v2.2.2 # the Go module proxy here serves v2.2.2, not v2.3.0
install_s5cmd() {
	S5CMD=$TOOLBIN/s5cmd-$S5CMD_VERSION/s5cmd
	if [ ! -x "$S5CMD" ]; then
		mkdir -p "$(dirname "$S5CMD")"
		GOBIN=$(dirname "$S5CMD") GOFLAGS= go install "github.com/peak/s5cmd/v2@$S5CMD_VERSION" 2>/dev/null ||
			go_build_pinned "$S5CMD" "github.com/peak/s5cmd/v2@$S5CMD_VERSION" >/dev/null 2>&1
	fi
}

# install_rclone builds the pinned rclone (once; cached in TOOLBIN) from a
# throwaway module, as install_s5cmd does, and sets RCLONE to it. The first
# build takes several minutes (every backend is compiled in). When it
# cannot be built, RCLONE is empty and RCLONE_ERR says why.
RCLONE_VERSION=v1.76.0 # the newest the Go module proxy here serves
install_rclone() {
	RCLONE=$TOOLBIN/rclone-$RCLONE_VERSION/rclone RCLONE_ERR=""
	if [ ! -x "$RCLONE" ]; then
		local log
		log=$(mktemp)
		if ! go_build_pinned "$RCLONE" "github.com/rclone/rclone@$RCLONE_VERSION" >"$log" 2>&1; then
			RCLONE_ERR="rclone $RCLONE_VERSION could not be built here: $(grep -v '^go: \(downloading\|added\|finding\)' "$log" | tail -n 3 | tr '\n' ' ')"
			RCLONE=""
		fi
		rm -f "$log"
	fi
}

# quiet_machine: print the 1-minute load average; wait while it is above
# LOAD_MAX (default 1.5: the machines are shared), up to LOAD_WAIT seconds
# (default 300), then measure anyway, saying so.
quiet_machine() {
	local load waited=0 max=${LOAD_MAX:-1.5} wait=${LOAD_WAIT:-300}
	while :; do
		read -r load _ </proc/loadavg
		if awk -v l="$load" -v m="$max" 'BEGIN { exit !(l <= m) }'; then
			break
		fi
		if [ "$waited" -ge "$wait" ]; then
			echo "   load $load still above $max after ${waited}s: measuring anyway"
			return
		fi
		[ "$waited" -gt 0 ] || echo "   load $load above $max: waiting"
		sleep 10
		waited=$((waited + 10))
	done
	if [ "$waited" -gt 0 ]; then echo "   load $load (after waiting ${waited}s)"; else echo "   load $load"; fi
}

# median X...: the median of the numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# kill_when OUT ERR PROBE CMD...: runs CMD in the background, its stdout
# to OUT and stderr to ERR, and kills it with SIGKILL as soon as PROBE (a
# function, called with OUT every 0.1 s) prints something. Sets killed to
# what PROBE printed (empty when the run ended first) and rc1; adds the pid
# to bgpids.
kill_when() {
	local out=$1 err=$2 probe=$3 xpid p
	shift 3
	# exec: $! is the command itself, which kill -9 must hit.
	(exec "$@") >"$out" 2>"$err" &
	xpid=$!
	bgpids+=("$xpid")
	killed=""
	# (stderr off: no "Killed" job notice from the shell)
	{ while kill -0 "$xpid" 2>/dev/null; do
		sleep 0.1
		p=$("$probe" "$out" || true)
		if [ -n "$p" ]; then
			kill -9 "$xpid"
			killed=$p
			break
		fi
	done
	wait "$xpid" && rc1=0 || rc1=$?; } 2>/dev/null
}

# kill_send_half_way OUT ERR CMD...: kill_when for the xfer send CMD (with
# --json): the kill comes once its journal (under XDG_CACHE_HOME) records
# half of the sealed spool acknowledged by the server. A spool is only
# resumable once sealed, so the kill may come later than half way. killed
# is "DONE TOTAL" bytes.
kill_send_half_way() {
	local out=$1 err=$2
	shift 2
	kill_when "$out" "$err" sealed_half_acknowledged "$@"
}

# sealed_half_acknowledged prints "DONE TOTAL" once a send journal records
# half of its sealed spool acknowledged. Half way is judged from the
# journal, which records each part the server has acknowledged (the --json
# progress lines come every few seconds, too coarse).
sealed_half_acknowledged() {
	cat "$XDG_CACHE_HOME"/xfer/spool/*.journal 2>/dev/null |
		jq -r 'select(.sealed and .spool_size > 0) | ([.parts[].size] | add // 0) as $done | select($done * 2 >= .spool_size) | "\($done) \(.spool_size)"' 2>/dev/null
}

# build_servers LOG [NAME...] builds (or finds cached) the pinned S3
# servers NAMEd (default: MinIO and versitygw) and exports XFER_TEST_BIN,
# so that s3serve finds them even when a script changes XDG_CACHE_HOME. A
# first build takes minutes: buildservers says so on stderr, and how long
# so far each minute, while the go command's output goes to LOG.
build_servers() {
	local log=$1 servers args=() name
	shift
	for name in "$@"; do args+=(-server "$name"); done
	servers=$(go run ./internal/testkit/s3test/cmd/buildservers -log "$log" "${args[@]}") || { cat "$log"; return 1; }
	XFER_TEST_BIN=$(dirname "$(dirname "$(echo "$servers" | head -n 1 | sed 's/^[^=]*=//')")")
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
# indent FILE...: the files' lines, indented under the step.
indent() { sed 's/^/      /' "$@"; }
# event FILE EVENT NAME: field NAME of the last EVENT event in an NDJSON file.
event() { jq -r "select(.event == \"$2\") | .$3" "$1" | tail -n 1; }

# goreleaser_remote: goreleaser reads the git remote's URL, and without
# one (a clone made without a remote, a worktree of a local repository)
# it drops every git fact of a snapshot: commit "none" and the date of the
# build, so nothing names the commit and no build is reproducible. This
# names the project's remote in the environment (git's GIT_CONFIG_*
# variables), changing no git configuration.
goreleaser_remote() {
	git ls-remote --get-url >/dev/null 2>&1 && return 0
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/xfer-dev/xfer.git
}

# go_build_pinned OUT PACKAGE@VERSION [GO BUILD FLAG...]: builds the main
# PACKAGE, of its module at the pinned VERSION, into OUT from a throwaway
# module, because `go install P@V` wants a version list the proxy here may
# refuse, and refuses a module whose go.mod has replace directives. Output
# goes to stdout and stderr; OUT appears only when the build succeeded.
go_build_pinned() {
	local out=$1 pkgver=$2 tmp rc=0
	shift 2
	tmp=$(mktemp -d)
	mkdir -p "$(dirname "$out")"
	(cd "$tmp" && export GOFLAGS= GOWORK=off &&
		go mod init pinnedbuild >/dev/null 2>&1 &&
		go get "$pkgver" &&
		go build "$@" -o "$out.tmp" "${pkgver%@*}") || rc=$?
	rm -rf "$tmp"
	if [ "$rc" = 0 ]; then mv "$out.tmp" "$out"; else rm -f "$out.tmp"; fi
	return "$rc"
}

# install_goreleaser builds the pinned goreleaser (once; cached in TOOLBIN)
# and sets GORELEASER to it. The version is stamped so
# `goreleaser --version` tells the truth. The first build takes a few
# minutes.
GORELEASER_VERSION=v2.15.1
install_goreleaser() {
	GORELEASER=$TOOLBIN/goreleaser-$GORELEASER_VERSION/goreleaser
	[ -x "$GORELEASER" ] ||
		go_build_pinned "$GORELEASER" "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION" \
			-trimpath -ldflags "-s -w -X main.version=${GORELEASER_VERSION#v} -X main.builtBy=xfer-scripts" || return 1
	"$GORELEASER" --version 2>&1 | grep -m1 GitVersion
}

# install_cyclonedx_gomod builds the pinned cyclonedx-gomod (once; cached
# in TOOLBIN), the SBOM generator goreleaser's sboms section runs, and puts
# its directory on PATH. A small module: about a minute on a fresh machine.
CYCLONEDX_GOMOD_VERSION=v1.10.0
install_cyclonedx_gomod() {
	local bin=$TOOLBIN/cyclonedx-gomod-$CYCLONEDX_GOMOD_VERSION/cyclonedx-gomod
	[ -x "$bin" ] ||
		go_build_pinned "$bin" "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$CYCLONEDX_GOMOD_VERSION" \
			-trimpath -ldflags "-s -w" || return 1
	PATH=$(dirname "$bin"):$PATH
	cyclonedx-gomod version | grep -m1 '^Version'
}

# pe_machine FILE checks that FILE is a PE executable (MZ, then PE\0\0 at
# the offset stored at 0x3c) and prints its machine type: 8664 for amd64,
# aa64 for arm64.
pe_machine() {
	local f=$1 off
	[ "$(head -c2 "$f")" = MZ ] || { echo "$f: no MZ signature" >&2; return 1; }
	off=$(od -An -tu4 --endian=little -j60 -N4 "$f" | tr -d ' ')
	[ "$(od -An -tx1 -j"$off" -N4 "$f" | tr -d ' ')" = 50450000 ] ||
		{ printf '%s: no PE\\0\\0 signature at offset %s\n' "$f" "$off" >&2; return 1; }
	od -An -tx2 --endian=little -j$((off + 4)) -N2 "$f" | tr -d ' '
}

# check_vcs_stamp: a plain `go build` of HEAD, in a fresh clone (Go 1.26
# stamped nothing in a `git worktree` checkout here), names HEAD's commit
# and date in `xfer version`: the path `go install`
# builds take, with no ldflags. (A `go install` of a tagged version from the
# module proxy records the module version only; a pseudo-version names the
# commit; cmd/version_test.go covers both.)
check_vcs_stamp() {
	local tmp commit got rc=0
	tmp=$(mktemp -d)
	commit=$(git rev-parse HEAD)
	git clone -q --no-checkout . "$tmp/src" &&
		(cd "$tmp/src" && git checkout -q "$commit" && GOFLAGS=-buildvcs=true go build -trimpath -o "$tmp/xfer" ./cmd/xfer) || rc=1
	[ "$rc" = 0 ] && got=$("$tmp/xfer" version)
	rm -rf "$tmp"
	[ "$rc" = 0 ] || return 1
	echo "go build -buildvcs=true: $got"
	[[ $got == *"commit ${commit:0:12} of "* ]] || { echo "xfer version does not name commit ${commit:0:12}"; return 1; }
}

# signing_key makes ready the OpenPGP key goreleaser signs checksums.txt
# with: a new GNUPGHOME (exported) holding it, XFER_SIGNING_FINGERPRINT
# (exported) naming it, and SIGNING_PUBKEY, a file with its ASCII-armored
# public key. A release takes the key from the environment: XFER_SIGNING_KEY,
# an ASCII-armored secret key, with its passphrase, if it has one, in
# XFER_SIGNING_PASSPHRASE (goreleaser passes it to gpg on stdin, never in
# argv). Without XFER_SIGNING_KEY (CI's snapshot) a throwaway Ed25519 key is
# made on the fly, valid for a day; it signs nothing that leaves the machine.
signing_key() {
	install_missing gpg:gnupg gpgv:gpgv
	GNUPGHOME=$(mktemp -d)
	chmod 700 "$GNUPGHOME"
	export GNUPGHOME
	if [ -n "${XFER_SIGNING_KEY:-}" ]; then
		printf '%s\n' "$XFER_SIGNING_KEY" | gpg --batch --quiet --import || return 1
	else
		gpg --batch --quiet --passphrase '' --quick-gen-key \
			"xfer snapshot (throwaway key, CI only) <snapshot@invalid>" ed25519 sign 1d 2>/dev/null || return 1
	fi
	XFER_SIGNING_FINGERPRINT=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
	[ -n "$XFER_SIGNING_FINGERPRINT" ] || { echo "no secret key in $GNUPGHOME"; return 1; }
	export XFER_SIGNING_FINGERPRINT
	SIGNING_PUBKEY=$GNUPGHOME/xfer-signing-key.asc
	gpg --batch --armor --export "$XFER_SIGNING_FINGERPRINT" >"$SIGNING_PUBKEY"
	echo "signing key $XFER_SIGNING_FINGERPRINT ($([ -n "${XFER_SIGNING_KEY:-}" ] && echo "from XFER_SIGNING_KEY" || echo "throwaway"))"
}

# verify_signature SIG FILE PUBKEY: gpgv checks SIG over FILE against PUBKEY
# alone (a keyring of just that public key), as a client would; then the
# same signature must fail over a copy of FILE with one byte added.
verify_signature() {
	local sig=$1 file=$2 pub=$3 tmp rc=0
	tmp=$(mktemp -d)
	gpg --batch --dearmor <"$pub" >"$tmp/key.gpg"
	if gpgv --keyring "$tmp/key.gpg" "$sig" "$file" 2>"$tmp/out"; then
		grep -m1 'Good signature' "$tmp/out" | sed 's/^gpgv: //'
		cp "$file" "$tmp/tampered"
		echo >>"$tmp/tampered"
		if gpgv --keyring "$tmp/key.gpg" "$sig" "$tmp/tampered" 2>/dev/null; then
			echo "the signature also verifies over a tampered $(basename "$file")"
			rc=1
		else
			echo "a tampered copy fails: $(gpgv --keyring "$tmp/key.gpg" "$sig" "$tmp/tampered" 2>&1 | grep -m1 BAD | sed 's/^gpgv: //')"
		fi
	else
		cat "$tmp/out"
		rc=1
	fi
	rm -rf "$tmp"
	return "$rc"
}

# check_archive ARCHIVE TOP WANT... UNWANTED...: ARCHIVE (tar.gz or zip)
# holds every WANT path under the one top-level folder TOP, and no path
# matching an UNWANTED pattern (written !PATTERN, a bash glob).
check_archive() {
	local archive=$1 top=$2 list w
	shift 2
	list=$(bsdtar -tf "$archive") || return 1
	if grep -v "^$top/" <<<"$list" | grep -q .; then
		echo "$archive: entries outside $top/: $(grep -v "^$top/" <<<"$list" | head -3 | tr '\n' ' ')"
		return 1
	fi
	for w in "$@"; do
		if [[ $w == !* ]]; then
			# shellcheck disable=SC2053 # the pattern is a glob
			while read -r e; do [[ $e != ${w#!} ]] || { echo "$archive holds $e, which does not belong there"; return 1; }; done <<<"$list"
		else
			grep -qxF "$top/$w" <<<"$list" || { echo "$archive lacks $top/$w; it holds: $(tr '\n' ' ' <<<"$list")"; return 1; }
		fi
	done
	echo "$(basename "$archive"): $(wc -l <<<"$list") entries, all in $top/"
}

# check_sbom SBOM ARCHIVE BINARY OS ARCH VERSION: SBOM is a CycloneDX
# document of the BINARY in ARCHIVE (its SHA-256), built for OS/ARCH, whose
# main component is github.com/xfer-dev/xfer at VERSION and whose
# components are exactly the modules `go list -deps` finds compiled into
# ./cmd/xfer for OS/ARCH, at the versions go.mod selects, each with a
# package URL for OS/ARCH, plus the Go standard library of the Go that
# built it.
check_sbom() {
	local sbom=$1 archive=$2 binary=$3 os=$4 arch=$5 version=$6 sum want got
	[ -f "$sbom" ] || { echo "missing $sbom"; return 1; }
	sum=$(bsdtar -xOf "$archive" "$binary" | sha256sum | cut -d' ' -f1)
	jq -e --arg sum "$sum" --arg os "$os" --arg arch "$arch" --arg v "$version" --arg go "$(go env GOVERSION)" '
		(.metadata.properties | map({(.name): .value}) | add) as $p
		| .bomFormat == "CycloneDX"
		and .metadata.component.name == "github.com/xfer-dev/xfer" and .metadata.component.version == $v
		and $p["cdx:gomod:binary:hash:SHA-256"] == $sum
		and $p["cdx:gomod:build:env:GOOS"] == $os and $p["cdx:gomod:build:env:GOARCH"] == $arch
		and ([.components[] | select(.name != "std") | .purl | endswith("?goarch=\($arch)&goos=\($os)&type=module")] | all)
		and ([.components[] | select(.name == "std") | .version] == [$go])' "$sbom" >/dev/null ||
		{ echo "$(basename "$sbom") is not a CycloneDX SBOM of $os/$arch's $(basename "$binary") (SHA-256 $sum) of xfer $version built by $(go env GOVERSION)"; return 1; }
	want=$(GOOS=$os GOARCH=$arch go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}}{{end}}{{end}}' ./cmd/xfer | sort -u)
	got=$(jq -r '.components[] | select(.name != "std") | "\(.name)@\(.version)"' "$sbom" | sort)
	[ "$got" = "$want" ] || { echo "$(basename "$sbom") does not list the modules compiled in:"; diff <(echo "$want") <(echo "$got"); return 1; }
	grep -qx 'github.com/aws/aws-sdk-go-v2/service/s3@.*' <<<"$got" || { echo "$(basename "$sbom") does not list the S3 SDK"; return 1; }
	echo "$(basename "$sbom"): CycloneDX, $(basename "$archive")'s $(basename "$binary") (SHA-256 ${sum:0:12}…), $(wc -l <<<"$got") modules + std, as go list -deps for $os/$arch"
}

# check_snapshot DIST COMMIT checks what `goreleaser release --snapshot`
# left in DIST (run with signing_key's key), built from COMMIT:
# - six archives, each in one top-level folder, holding the binary,
#   LICENSE, README and docs; man pages and bash/zsh/fish completions on
#   Linux and macOS only, the PowerShell completion on Windows only;
# - a CycloneDX SBOM per archive, of its binary (check_sbom);
# - checksums.txt matching every archive, package and SBOM, and its
#   signature verifying against the public key alone;
# - deb and rpm packages with the binary, man pages, completions and the
#   systemd examples; the deb installs with dpkg -i (then is removed again)
#   and its xfer --version names COMMIT;
# - the Homebrew cask, Scoop and winget manifests, naming the archives'
#   checksums;
# - Windows binaries with valid PE headers for their architectures.
check_snapshot() {
	local dist=$1 commit=$2 version archive top os arch got sum deb rpm f
	version=$(jq -r .version "$dist/metadata.json")
	[ -n "$version" ] && [ "$version" != null ] || { echo "no version in $dist/metadata.json"; return 1; }
	for os in linux darwin windows; do
		for arch in amd64 arm64; do
			top=xfer_${version}_${os}_${arch}
			archive=$dist/$top.tar.gz
			if [ "$os" = windows ]; then
				check_archive "$dist/$top.zip" "$top" xfer.exe LICENSE README.md docs/install.md docs/cli/xfer_send.md \
					completions/xfer.ps1 '!*/manpages/*' '!*.1' '!*.bash' '!*/_xfer' '!*.fish' || return 1
				archive=$dist/$top.zip
			else
				check_archive "$archive" "$top" xfer LICENSE README.md docs/install.md docs/cli/xfer_send.md \
					manpages/xfer.1 manpages/xfer-send.1 completions/xfer.bash completions/_xfer completions/xfer.fish \
					'!*.ps1' '!*.exe' || return 1
			fi
			check_sbom "$dist/xfer_${version}_${os}_${arch}.sbom.json" "$archive" "$top/xfer$([ "$os" != windows ] || echo .exe)" \
				"$os" "$arch" "v$version" || return 1
		done
	done
	[ "$(find "$dist" -maxdepth 1 -name '*.sbom.json' | wc -l)" = 6 ] || { echo "want 6 SBOMs, have: $(cd "$dist" && ls ./*.sbom.json)"; return 1; }

	[ -f "$dist/checksums.txt" ] || { echo "missing $dist/checksums.txt"; return 1; }
	(cd "$dist" && sha256sum --quiet -c checksums.txt) || { echo "checksums.txt does not match"; return 1; }
	for f in "$dist"/*.tar.gz "$dist"/*.zip "$dist"/*.deb "$dist"/*.rpm "$dist"/*.sbom.json; do
		grep -q " $(basename "$f")\$" "$dist/checksums.txt" || { echo "checksums.txt does not list $(basename "$f")"; return 1; }
	done
	echo "checksums.txt: $(wc -l <"$dist/checksums.txt") files (archives, packages, SBOMs), all match"
	verify_signature "$dist/checksums.txt.sig" "$dist/checksums.txt" "$SIGNING_PUBKEY" || return 1

	got=$("$dist"/xfer_linux_amd64*/xfer version)
	echo "linux/amd64: $got"
	[[ "$got" == "xfer v$version (commit ${commit:0:12} of "* ]] || { echo "xfer version does not name v$version and commit ${commit:0:12}"; return 1; }

	deb=$(ls "$dist"/*_linux_amd64.deb) && rpm=$(ls "$dist"/*_linux_amd64.rpm) || { echo "missing deb or rpm"; ls "$dist"; return 1; }
	got=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
	for f in /usr/bin/xfer /usr/share/man/man1/xfer.1 /usr/share/man/man1/xfer-send.1 /usr/share/bash-completion/completions/xfer \
		/usr/share/zsh/vendor-completions/_xfer /usr/share/fish/vendor_completions.d/xfer.fish /usr/share/doc/xfer/copyright \
		/usr/share/doc/xfer/examples/systemd/xfer-send.timer /usr/share/doc/xfer/examples/systemd/xfer-pull.service; do
		grep -qxF "$f" <<<"$got" || { echo "$(basename "$deb") lacks $f"; return 1; }
	done
	echo "$(basename "$deb"): $(wc -l <<<"$got") entries, binary, man pages, completions, systemd examples"
	as_root dpkg -i "$deb" >/dev/null || return 1
	got=$(xfer --version)
	echo "installed with dpkg -i: $(dpkg-query -W xfer): $(command -v xfer): $got"
	systemd-analyze verify /usr/share/doc/xfer/examples/systemd/*.service /usr/share/doc/xfer/examples/systemd/*.timer 2>&1 || true
	as_root dpkg -r xfer >/dev/null
	[[ "$got" == *"commit ${commit:0:12} of "* ]] || { echo "the installed xfer --version does not name commit ${commit:0:12}"; return 1; }
	if command -v rpm >/dev/null; then
		got=$(rpm -qpl "$rpm" 2>/dev/null)
		for f in /usr/bin/xfer /usr/share/man/man1/xfer.1 /usr/share/zsh/site-functions/_xfer /usr/share/licenses/xfer/LICENSE \
			/usr/share/doc/xfer/examples/systemd/xfer-send.service; do
			grep -qxF "$f" <<<"$got" || { echo "$(basename "$rpm") lacks $f"; return 1; }
		done
		echo "$(basename "$rpm"): rpm -qpl lists $(wc -l <<<"$got") files; $(rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH} %{LICENSE}' "$rpm" 2>/dev/null)"
	else
		echo "$(basename "$rpm"): $(stat -c %s "$rpm") bytes (no rpm command to list it)"
	fi

	f=$dist/homebrew/Casks/xfer.rb
	sum=$(awk -v f="xfer_${version}_darwin_arm64.tar.gz" '$2 == f { print $1 }' "$dist/checksums.txt")
	grep -q "sha256 \"$sum\"" "$f" || { echo "$f does not name darwin/arm64's checksum $sum"; return 1; }
	f=$dist/scoop/xfer.json
	sum=$(awk -v f="xfer_${version}_windows_amd64.zip" '$2 == f { print $1 }' "$dist/checksums.txt")
	[ "$(jq -r .architecture.\"64bit\".hash "$f")" = "$sum" ] || { echo "$f does not name windows/amd64's checksum $sum"; return 1; }
	f=$(find "$dist/winget" -name 'xfer-dev.xfer.installer.yaml')
	grep -qi "InstallerSha256: $sum" "$f" || { echo "winget installer manifest ${f:-(missing)} does not name windows/amd64's checksum"; return 1; }
	echo "manifests: $(cd "$dist" && find homebrew scoop winget -type f | sort | tr '\n' ' ')(checksums match the archives)"

	for arch in amd64:8664 arm64:aa64; do
		got=$(pe_machine "$dist"/*windows_${arch%:*}*/xfer.exe) || return 1
		printf 'windows/%s: MZ, PE\\0\\0, machine 0x%s\n' "${arch%:*}" "$got"
		[ "$got" = "${arch#*:}" ] || { echo "windows/${arch%:*} machine is 0x$got, want 0x${arch#*:}"; return 1; }
	done
}

# check_reproducible DIST1 DIST2: two goreleaser runs of one commit made
# byte-identical binaries, archives, packages, SBOMs, checksums.txt, and
# Homebrew and Scoop manifests. (The signature carries the time it was
# made: it differs, by design. goreleaser writes the winget installer
# manifest with the build's day and its installers in the order the
# archives were finished: check_snapshot checks its checksums instead.)
check_reproducible() {
	local a=$1 b=$2 n
	(cd "$a" && find . -type f \( -name xfer -o -name xfer.exe -o -name '*.tar.gz' -o -name '*.zip' -o -name '*.deb' -o -name '*.rpm' \
		-o -name '*.sbom.json' -o -name checksums.txt -o -path './homebrew/*' -o -path './scoop/*' \) -print0 | sort -z | xargs -0 sha256sum) >"$a.sha256"
	n=$(wc -l <"$a.sha256")
	[ "$n" -ge 25 ] || { echo "only $n files to compare in $a (want 6 binaries, 6 archives, 4 packages, 6 SBOMs, checksums.txt, 2 manifests)"; return 1; }
	(cd "$b" && sha256sum --quiet -c "$a.sha256") || { echo "the second build differs from the first"; return 1; }
	echo "second build: all $n binaries, archives, packages, SBOMs, checksums.txt and Homebrew/Scoop manifests byte-identical to the first"
}

# start_toxi STREAM RATE: runs toxi (on PATH) in front of the server at
# XFER_ENDPOINT with a bandwidth toxic of RATE KB/s a connection on STREAM
# (upstream: client to server; downstream: server to client), waits for
# toxi.env in the current directory and sources it (LISTEN, API). Sets
# toxipid and adds it to bgpids.
start_toxi() {
	toxi serve -upstream "${XFER_ENDPOINT#http://}" -rate "$2" -stream "$1" -env toxi.env 2>>toxi.log &
	toxipid=$!
	bgpids+=("$toxipid")
	for _ in $(seq 100); do [ -f toxi.env ] && break; sleep 0.1; done
	# shellcheck source=/dev/null
	source toxi.env
}

# toxi_settled DIRECTION: toxiproxy's "received sent" byte counters for
# DIRECTION once they stand still (it counts a connection when the
# connection ends).
toxi_settled() {
	local a b
	a=$(toxi bytes -api "$API" -direction "$1")
	for _ in $(seq 120); do
		sleep 1
		b=$(toxi bytes -api "$API" -direction "$1")
		[ "$a" != "$b" ] || break
		a=$b
	done
	echo "$a"
}

# write_report DOC NAME REPORTFILE: puts the report (which begins with
# <!-- NAME:begin --> and ends with <!-- NAME:end -->) into the Markdown
# file DOC in place of what is between those markers, or at its end when
# they are missing.
write_report() {
	local doc=$1 name=$2 report=$3 tmp
	if grep -q "^<!-- $name:begin -->\$" "$doc"; then
		tmp=$(mktemp)
		awk -v f="$report" -v b="<!-- $name:begin -->" -v e="<!-- $name:end -->" '
			$0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
			$0 == e { skip = 0; next }
			!skip' "$doc" >"$tmp"
		cat "$tmp" >"$doc"
		rm -f "$tmp"
	else
		{ echo; cat "$report"; } >>"$doc"
	fi
}
