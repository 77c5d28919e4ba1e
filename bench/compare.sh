#!/usr/bin/env bash
# Side-by-side benchmark of xfer against the chain of stock tools a user
# would pick instead (issue 7), on the same machine in the same run:
#
#   seal    xfer encrypt            vs 7zz a -tzip -mem=AES256 -mx=1, then age -r
#                                   vs the same at -mx=5
#   send    xfer send               vs each peer seal, then s5cmd cp
#                                   vs each peer seal, then rclone copyto
#   pull    xfer pull               vs s5cmd cp, then age -d, then 7zz x
#   resume  a send over a link capped at LINK_KBPS (toxiproxy in front of
#           MinIO) killed with SIGKILL about half way, then finished: xfer
#           re-runs the same command and resumes (killed as
#           scripts/acceptance-send.sh does, once half of the sealed spool
#           is acknowledged); the peer's upload (s5cmd cp of the sealed
#           file, same number of connections) can only start again from
#           scratch. Reported: bytes and time the second run needs.
#   list    xfer list               vs s5cmd ls, LIST_N objects (10,000):
#           xfer list --fresh (a HEAD per object, as a first list) and
#           xfer list again (metadata from its cache)
#   shred   xfer shred --yes NAME…  vs s5cmd rm --all-versions, SHRED_N
#           objects (1,000) × 3 versions on the versioned bucket
#   many    MANY_N files of MANY_SIZE each (500 × 1MiB): one \`xfer send\`
#           of them all vs a loop of 7zz + age + s5cmd cp per file, and one
#           \`xfer pull --all\` vs a loop of s5cmd cp + age -d + 7zz x per
#           file (what an operator's shell loop does)
#   compress-only: the CSV deflated by xfer's own parallel block pipeline at
#           xfer's level on all cores, nothing else (BenchmarkCompressOnly
#           in zipenc): the yardstick of "send ≥ 85 % of compress-only".
#
# Every round runs xfer and its peers back to back, swapping which goes
# first each round; wall time and peak RSS come from /usr/bin/time, a
# chain's time is the sum of its steps and its RSS the largest. Medians over
# ROUNDS and their ratios are reported (peer / xfer: above 1, xfer is
# faster). Timings on a shared machine are noisy; ratios of medians from
# the same run are what to compare. Nothing here passes or fails.
#
# The results, with the machine, the date and the load average at the
# start and the end, are written into DOC (default docs/performance.md)
# between the markers <!-- compare:begin --> and <!-- compare:end -->
# (appended when missing); DOC= leaves the file alone. PROFILE=DIR also
# takes CPU profiles of one send and one pull (XFER_CPUPROFILE, see
# docs/performance.md) into DIR and prints their tops. BIG=SIZE (8GiB,
# say) adds one send and one pull of a CSV that large, for the peak RSS
# target (it needs about 2.5 × BIG of free disk more).
#
# CASES chooses what runs (default: all of "seal send pull resume list
# shred many"); e.g. CASES="pull many". LINK=RATE (a tc rate: 200mbit,
# 1gbit) caps the loopback link for the send, pull and many cases with a
# token bucket on lo (tc qdisc … tbf; root is needed, and it is removed on
# exit whatever happens): everything on 127.0.0.1 shares that one link, as
# client and server would share a line. With LINK, send and pull rows also
# say their time against the time the link alone needs for the sealed
# object at RATE (bytes × 8 / RATE, no protocol overhead).
#
# It installs what it needs: Debian's 7zip, age, libarchive-tools, time and
# jq (apt-get); s5cmd and rclone at pinned versions built from the Go module
# proxy into .cache/bin (rclone takes minutes the first time; when it cannot
# be built, its rows say so); the pinned MinIO (buildservers, cached). MinIO
# and toxiproxy listen on 127.0.0.1 only and stop when the script exits.
# rclone is configured through environment variables only (no config file).
# Work files live in a temporary directory (WORK=DIR to choose it, KEEP=1 to
# keep it); it needs about 5 × SIZE of free disk.
#
#   ./bench/compare.sh                           # SIZE=1GiB ROUNDS=5
#   SIZE=64MiB ROUNDS=2 DOC= ./bench/compare.sh  # a quick look, docs untouched
#   LINK=200mbit CASES=pull ./bench/compare.sh    # pull over a 200 Mbit/s line
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SIZE=${SIZE:-1GiB}
ROUNDS=${ROUNDS:-5}
LIST_N=${LIST_N:-10000}
SHRED_N=${SHRED_N:-1000}
SHRED_VERSIONS=${SHRED_VERSIONS:-3}
LINK_KBPS=${LINK_KBPS:-20000} # the resume runs' link: 20 MB/s
CONC=4                        # upload connections in the resume runs (xfer's default)
DOC=${DOC-docs/performance.md}
PROFILE=${PROFILE:-}
BIG=${BIG:-} # e.g. 8GiB: one more send and pull of that size, for peak RSS
CASES=${CASES:-seal send pull resume list shred many}
LINK=${LINK:-}         # a tc rate, e.g. 200mbit: the link of send, pull and many
MANY_N=${MANY_N:-500}  # the many-small-files case: how many files …
MANY_SIZE=${MANY_SIZE:-1MiB} # … of what size each
MARK=${MARK:-compare${LINK:+-$LINK}} # DOC's markers: <!-- MARK:begin/end -->
want() { [[ " $CASES " == *" $1 "* ]]; }
# The machine is shared: say what the load is, wait at most LOAD_WAIT
# seconds (default 0) for it to fall below LOAD_MAX before each round.
export LOAD_MAX=${LOAD_MAX:-1.5} LOAD_WAIT=${LOAD_WAIT:-0}
# s3test's versioned bucket (versionedBucketName in internal/testkit/s3test/server.go).
VBUCKET=${VBUCKET:-xfer-test-versioned}
PW=Bench-Passw0rd-7 # the zip password of every tool
repo=$PWD
acceptance_begin
# link_on / link_off: the loopback link capped at LINK, and uncapped again
# (also on exit, however the script ends).
link_bps=""
if [ -n "$LINK" ]; then
	link_bps=$(awk -v r="$LINK" 'BEGIN {
		n = r + 0; u = tolower(substr(r, length(n "") + 1))
		m["bit"] = 1; m["kbit"] = 1e3; m["mbit"] = 1e6; m["gbit"] = 1e9
		m["bps"] = 8; m["kbps"] = 8e3; m["mbps"] = 8e6; m["gbps"] = 8e9
		if (n <= 0 || !(u in m)) exit 1
		printf "%.0f", n * m[u] }') || { echo "LINK=$LINK: not a tc rate such as 200mbit or 1gbit" >&2; exit 2; }
fi
link_on() {
	[ -n "$LINK" ] || return 0
	# A burst of at least lo's MTU (64 KiB) and of 4 ms at the rate.
	local burst=$((link_bps / 8 / 250))
	[ "$burst" -ge 131072 ] || burst=131072
	as_root tc qdisc replace dev lo root tbf rate "$LINK" burst "$burst" latency 100ms
	link_capped=1
}
link_off() {
	[ -n "${link_capped:-}" ] || return 0
	as_root tc qdisc del dev lo root 2>/dev/null || true
	link_capped=""
}
trap 'link_off; acceptance_cleanup' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
date_start=$(date -u '+%Y-%m-%d %H:%M UTC')

step "installing tools"
install_debian_tools >/dev/null
install_missing /usr/bin/time:time jq:jq
[ -z "$LINK" ] || install_missing tc:iproute2
install_s5cmd
install_rclone
v7zz=$(7zz i | awk '/^7-Zip/ && !v { v = $3 } END { print v }')
echo "7zz $v7zz, age $(age --version), s5cmd $S5CMD_VERSION, rclone ${RCLONE:+$RCLONE_VERSION}${RCLONE_ERR}"
build_servers "$work/buildservers.log"
minio_version=$(basename "$(ls -d "$XFER_TEST_BIN"/minio-*)")
minio_version=${minio_version#minio-}

bin=$work/bin
go build -trimpath -o "$bin/" ./cmd/xfer ./internal/cmd/gencsv ./internal/cmd/s3serve ./internal/cmd/toxi ./internal/cmd/s3tool
go test -c -o "$bin/zipenc.test" ./zipenc
PATH=$bin:$PATH
xfer_version=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo '(no git checkout)')
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "xfer $xfer_version, Go $(go env GOVERSION), MinIO $minio_version, $(nproc) cores ($cpu_model), load $load_start"
cd "$work"

step "generating $SIZE of address CSV; keys; MinIO"
gencsv -size "$SIZE" -o in.csv
insize=$(stat -c %s in.csv)
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache XFER_ZIP_PASSWORD=$PW
xfer keygen -o k.txt >r.txt 2>/dev/null
recipient=$(cat r.txt)
start_s3serve minio "$work" || exit 1
bgpids+=("$S3SERVE_PID")
# shellcheck source=/dev/null
set -a && source "$work/minio.env" && set +a
bucket=$XFER_BUCKET
s5() { "$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" "$@"; }
# rclone's remote "bench:" from the environment; the secret stays there.
export RCLONE_CONFIG=$work/rclone.conf.absent RCLONE_LOG_LEVEL=ERROR RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Minio \
	RCLONE_CONFIG_BENCH_ENV_AUTH=true RCLONE_CONFIG_BENCH_ENDPOINT=$XFER_ENDPOINT \
	RCLONE_CONFIG_BENCH_REGION=$AWS_REGION RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
echo "MinIO at $XFER_ENDPOINT, buckets $bucket and $VBUCKET"

# The measurements. A chain is one or more timed steps: chain_t sums their
# wall seconds, chain_m keeps the largest peak RSS (KiB). record NAME adds
# the chain to T[NAME] and M[NAME] and starts a new one.
declare -A T M SZ
chain_t=0 chain_m=0
timed() {
	if ! /usr/bin/time -f '%e %M' -o "$work/t.txt" "$@"; then
		echo "   failed: $*"
		cat "$work/t.txt"
		return 1
	fi
	local t m
	read -r t m < <(tail -n 1 "$work/t.txt")
	chain_t=$(awk -v a="$chain_t" -v b="$t" 'BEGIN { print a + b }')
	[ "$m" -le "$chain_m" ] || chain_m=$m
}
record() {
	T[$1]+="$chain_t " M[$1]+="$chain_m "
	printf '   %-22s %8.2f s  %7.1f MiB\n' "$1" "$chain_t" "$(awk -v k="$chain_m" 'BEGIN { print k / 1024 }')"
	chain_t=0 chain_m=0
}
# keep_chain: the chain so far, to start others from (a peer's seal,
# followed by each of its uploads).
keep_chain() { kept_t=$chain_t kept_m=$chain_m; }
from_kept() { chain_t=$kept_t chain_m=$kept_m; }
# same FILE: true when FILE is the input, byte for byte (checked once).
same() { same_as in.csv "$1"; }
same_as() { cmp -s "$1" "$2" || { echo "   $2 differs from $1"; return 1; }; }
# in_turn ROUND F G: F ROUND then G ROUND in odd rounds, G first in even
# ones, once the load average has been printed.
in_turn() {
	quiet_machine
	if [ $(($1 % 2)) = 1 ]; then
		"$2" "$1"
		"$3" "$1"
	else
		"$3" "$1"
		"$2" "$1"
	fi
}

xfer_round() { # ROUND
	local r=$1
	if want seal || want send; then
		timed env XFER_BENCH_CSV=in.csv zipenc.test -test.run '^$' -test.bench '^BenchmarkCompressOnly$' -test.benchtime 1x >co.txt
		record compress
		[ -n "${SZ[compress]:-}" ] || SZ[compress]=$(awk -v n="$insize" '/CompressOnly/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "%size") printf "%d", $i * n / 100 }' co.txt)
	fi
	if want seal; then
		timed xfer encrypt -q in.csv -R r.txt -o x.age
		record seal-xfer
		SZ[seal-xfer]=$(stat -c %s x.age)
		rm x.age
	fi
	want send || want pull || return 0
	local send=(xfer send --json --no-progress --prefix send/ --as "x$r.csv" in.csv -R r.txt)
	if want send; then
		timed "${send[@]}" >sent.ndjson
		record send-xfer
	else
		"${send[@]}" >sent.ndjson # what pull pulls; not timed
	fi
	SZ[send-xfer]=$(jq -r 'select(.event == "sent") | .bytes' sent.ndjson)
	if want pull; then
		timed xfer pull --no-progress --prefix send/ "x$r.csv.zip.age" -d "pulled$r" -i k.txt >/dev/null 2>&1
		record pull-xfer
		[ "$r" != 1 ] || same "pulled$r/x$r.csv"
		rm -rf "pulled$r"
	fi
	s5 rm "s3://$bucket/send/*" >/dev/null
}

peer_round() { # ROUND
	local r=$1 mx
	want seal || want send || want pull || return 0
	for mx in 1 5; do
		# -mx=5 is what the pull chain downloads.
		want seal || want send || [ "$mx" = 5 ] || continue
		if want seal || want send || [ ! -f pull-peer.zip.age ]; then
			timed 7zz a -tzip -mem=AES256 -mx="$mx" -p"$PW" -bso0 -bsp0 p.zip in.csv
			timed age -r "$recipient" -o p.zip.age p.zip
			rm p.zip
			want seal || want send || cp p.zip.age pull-peer.zip.age # sealed once for every round
		else
			cp pull-peer.zip.age p.zip.age
		fi
		keep_chain
		if want seal || want send; then
			record "seal-7z$mx"
			SZ[seal-7z$mx]=$(stat -c %s p.zip.age)
		else
			chain_t=0 chain_m=0 # only made for the pull chain to download
		fi
		if want send; then
			from_kept
			timed "$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" cp p.zip.age "s3://$bucket/peer/s$mx-$r.zip.age" >/dev/null
			record "send-7z$mx-s5cmd"
			if [ -n "$RCLONE" ]; then
				from_kept
				timed "$RCLONE" copyto p.zip.age "bench:$bucket/peer/r$mx-$r.zip.age"
				record "send-7z$mx-rclone"
			fi
		elif [ "$mx" = 5 ]; then
			s5 cp p.zip.age "s3://$bucket/peer/s$mx-$r.zip.age" >/dev/null # what pull pulls; not timed
		fi
		rm p.zip.age
	done
	if want pull; then
		timed "$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" cp "s3://$bucket/peer/s5-$r.zip.age" dl.age >/dev/null
		timed age -d -i k.txt -o dl.zip dl.age
		timed 7zz x -p"$PW" -bso0 -bsp0 -y -o"peer$r" dl.zip
		record pull-peer
		[ "$r" != 1 ] || same "peer$r/in.csv"
		rm -rf dl.age dl.zip "peer$r"
	fi
	s5 rm "s3://$bucket/peer/*" >/dev/null
}

if want seal || want send || want pull; then
	step "seal, send, compress-only, pull: $SIZE, $ROUNDS rounds${LINK:+, send and pull over a $LINK link}"
	link_on
	for r in $(seq "$ROUNDS"); do
		echo "   round $r"
		in_turn "$r" xfer_round peer_round
	done
	link_off
fi

if want resume; then
	step "resume: a send killed with SIGKILL half way over a $((LINK_KBPS / 1000)) MB/s link, then finished"
	start_toxi upstream $((LINK_KBPS / CONC)) # sets LISTEN and API
	# shellcheck disable=SC2153 # LISTEN comes from start_toxi
	echo "   toxiproxy $LISTEN -> MinIO: $((LINK_KBPS / CONC)) KB/s a connection × $CONC connections"
	# The peer uploads what 7zz -mx=5 and age make of the CSV (not timed).
	7zz a -tzip -mem=AES256 -mx=5 -p"$PW" -bso0 -bsp0 p.zip in.csv
	age -r "$recipient" -o p.zip.age p.zip
	rm p.zip
	pobj=$(stat -c %s p.zip.age)
	proxied_bytes() { local c; c=$(toxi_settled upstream); echo "${c%% *}"; }
	pct() { awk -v a="$1" -v o="$2" 'BEGIN { printf "%.0f", a * 100 / o }'; }
	rx_kill=() rx_bytes=() rx_secs=() rp_kill=() rp_bytes=() rp_secs=()
	resume_xfer() { # ROUND
		local cmd=(env XFER_ENDPOINT="http://$LISTEN" xfer send --json --no-progress --prefix resume/ --as "x$1.csv" --concurrency "$CONC" in.csv -R r.txt)
		local b0 b1 obj resumed
		b0=$(proxied_bytes)
		kill_send_half_way run1.ndjson run1.err "${cmd[@]}"
		if [ -z "$killed" ]; then
			echo "   xfer: the first run ended (exit $rc1) before half way: no resume this round"
			cat run1.err
			s5 rm "s3://$bucket/resume/*" >/dev/null
			return 0
		fi
		b1=$(proxied_bytes)
		timed "${cmd[@]}" >run2.ndjson
		obj=$(jq -r 'select(.event == "sent") | .bytes' run2.ndjson)
		resumed=$(jq -r 'select(.event == "sent") | .resumed_bytes' run2.ndjson)
		rx_kill+=("$(pct $((b1 - b0)) "$obj")") rx_bytes+=("$(pct $((obj - resumed)) "$obj")") rx_secs+=("$chain_t")
		SZ[resume-xfer]=$obj
		echo "   xfer:  killed when ${rx_kill[-1]} % of the object had gone through; the re-run sent ${rx_bytes[-1]} % more (proxy: $(pct $(($(proxied_bytes) - b1)) "$obj") % incl. HTTP) in $chain_t s"
		chain_t=0 chain_m=0
		s5 rm "s3://$bucket/resume/*" >/dev/null
	}
	resume_peer() { # ROUND
		local cmd=("$S5CMD" --log error --endpoint-url "http://$LISTEN" cp --concurrency "$CONC" p.zip.age "s3://$bucket/resume/p$1.zip.age")
		local b0 b1 half
		b0=$(proxied_bytes)
		# The proxy counts a connection when it ends: the kill comes at half
		# the time the link needs for the object, and the counters then say
		# how far it got.
		half=$(awk -v o="$pobj" -v r="$LINK_KBPS" 'BEGIN { printf "%.2f", o / (r * 1000) / 2 }')
		(exec "${cmd[@]}") >/dev/null 2>&1 &
		local pid=$!
		bgpids+=("$pid")
		sleep "$half"
		{ kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true
		b1=$(proxied_bytes)
		timed "${cmd[@]}" >/dev/null
		rp_kill+=("$(pct $((b1 - b0)) "$pobj")") rp_secs+=("$chain_t")
		rp_bytes+=("$(pct $(($(proxied_bytes) - b1)) "$pobj")")
		echo "   s5cmd: killed when ${rp_kill[-1]} % of the object had gone through; the re-run sent ${rp_bytes[-1]} % (proxy, incl. HTTP) in $chain_t s"
		chain_t=0 chain_m=0
		s5 rm "s3://$bucket/resume/*" >/dev/null
	}
	for r in $(seq "$ROUNDS"); do in_turn "$r" resume_xfer resume_peer; done
	kill "$toxipid"
	rm p.zip.age
fi

if want list || want shred; then
	step "list $LIST_N objects; shred $SHRED_N objects × $SHRED_VERSIONS versions ($VBUCKET)"
	# Small objects named as xfer names them; s5cmd uploads them in parallel.
	mkdir objs
	(cd objs && for i in $(seq -f '%05g' "$LIST_N"); do printf 'sealed %s\n' "$i" >"f$i.csv.zip.age"; done)
	s5 cp 'objs/*' "s3://$bucket/list/" >/dev/null
	listed=$(xfer list --json --prefix list/ | jq -s '[.[] | select(.event == "object")] | length')
	echo "   $LIST_N objects under list/; xfer list sees $listed"
	mkdir sobjs
	(cd sobjs && for i in $(seq -f '%05g' "$SHRED_N"); do printf 'sealed %s\n' "$i" >"s$i.csv.zip.age"; done)
	names=()
	for f in sobjs/*; do names+=("$(basename "$f")"); done
	# versions PREFIX: how many versions and delete markers are under PREFIX.
	# (s5cmd prints listings at log level info: no --log error here.)
	versions() { { "$S5CMD" --endpoint-url "$XFER_ENDPOINT" ls --all-versions "s3://$VBUCKET/$1*" 2>/dev/null || true; } | wc -l; }
	# put_versions PREFIX: SHRED_VERSIONS versions of every object under PREFIX.
	put_versions() {
		for _ in $(seq "$SHRED_VERSIONS"); do s5 cp 'sobjs/*' "s3://$VBUCKET/$1" >/dev/null; done
	}
	list_shred_xfer() { # ROUND
		# --fresh HEADs every object, as a first list on a machine must; the
		# plain list then finds them in its metadata cache.
		if want list; then
			timed xfer list --fresh --prefix list/ >/dev/null
			record list-xfer-fresh
			timed xfer list --prefix list/ >/dev/null
			record list-xfer
		fi
		want shred || return 0
		put_versions "shx$1/"
		[ "$1" != 1 ] || echo "   before xfer shred: $(versions "shx$1/") versions under shx$1/"
		timed xfer shred --yes --bucket "$VBUCKET" --prefix "shx$1/" "${names[@]}" >/dev/null
		record shred-xfer
		[ "$1" != 1 ] || echo "   after xfer shred: $(versions "shx$1/") versions"
	}
	list_shred_peer() { # ROUND
		if want list; then
			timed "$S5CMD" --endpoint-url "$XFER_ENDPOINT" ls "s3://$bucket/list/*" >/dev/null
			record list-s5cmd
		fi
		want shred || return 0
		put_versions "shs$1/"
		[ "$1" != 1 ] || echo "   before s5cmd rm: $(versions "shs$1/") versions under shs$1/"
		timed "$S5CMD" --endpoint-url "$XFER_ENDPOINT" rm --all-versions "s3://$VBUCKET/shs$1/*" >/dev/null
		record shred-s5cmd
		[ "$1" != 1 ] || echo "   after s5cmd rm: $(versions "shs$1/") versions"
	}
	for r in $(seq "$ROUNDS"); do in_turn "$r" list_shred_xfer list_shred_peer; done
fi

if want many; then
	step "many files: $MANY_N CSVs of $MANY_SIZE, one xfer command vs a loop of the chain, $ROUNDS rounds${LINK:+, over a $LINK link}"
	mkdir many
	for i in $(seq "$MANY_N"); do gencsv -size "$MANY_SIZE" -seed "$i" -o "many/m$(printf %04d "$i").csv" 2>/dev/null; done
	many_files=(many/m*.csv)
	many_bytes=$(cat "${many_files[@]}" | wc -c)
	many_xfer() { # ROUND
		local r=$1
		timed xfer send -q --no-progress --prefix "many$r/" "${many_files[@]}" -R r.txt
		record many-send-xfer
		mkdir "mx$r"
		timed xfer pull -q --no-progress --all --prefix "many$r/" -d "mx$r" -i k.txt
		record many-pull-xfer
		[ "$r" != 1 ] || for f in "${many_files[@]}"; do same_as "$f" "mx$r/$(basename "$f")" || break; done
		rm -rf "mx$r"
		s5 rm "s3://$bucket/many$r/*" >/dev/null
	}
	many_peer() { # ROUND: the loops an operator would write around the chain
		local r=$1 f n
		mkdir "mp$r"
		chain_in_turn() {
			for f in "${many_files[@]}"; do
				n=$(basename "$f")
				7zz a -tzip -mem=AES256 -mx=5 -p"$PW" -bso0 -bsp0 "mp$r/$n.zip" "$f" &&
					age -r "$recipient" -o "mp$r/$n.zip.age" "mp$r/$n.zip" &&
					rm "mp$r/$n.zip" &&
					"$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" cp "mp$r/$n.zip.age" "s3://$bucket/peer$r/$n.zip.age" >/dev/null &&
					rm "mp$r/$n.zip.age" || return 1
			done
		}
		timed bash -c "$(declare -f chain_in_turn); $(declare -p many_files PW recipient S5CMD XFER_ENDPOINT bucket r); chain_in_turn"
		record many-send-peer
		chain_out() {
			for f in "${many_files[@]}"; do
				n=$(basename "$f")
				"$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" cp "s3://$bucket/peer$r/$n.zip.age" "mp$r/$n.zip.age" >/dev/null &&
					age -d -i k.txt -o "mp$r/$n.zip" "mp$r/$n.zip.age" &&
					7zz x -p"$PW" -bso0 -bsp0 -y -o"mp$r/out" "mp$r/$n.zip" >/dev/null &&
					rm "mp$r/$n.zip" "mp$r/$n.zip.age" || return 1
			done
		}
		timed bash -c "$(declare -f chain_out); $(declare -p many_files PW S5CMD XFER_ENDPOINT bucket r); chain_out"
		record many-pull-peer
		[ "$r" != 1 ] || for f in "${many_files[@]}"; do same_as "$f" "mp$r/out/$f" || break; done
		rm -rf "mp$r"
		s5 rm "s3://$bucket/peer$r/*" >/dev/null
	}
	link_on
	for r in $(seq "$ROUNDS"); do in_turn "$r" many_xfer many_peer; done
	link_off
	rm -rf many
fi

if [ -n "$BIG" ]; then
	step "one send and one pull of $BIG (peak RSS; the CSV is generated, sent, pulled and removed)"
	rm -f in.csv.zip.age
	gencsv -size "$BIG" -o big.csv
	bigsize=$(stat -c %s big.csv)
	timed xfer send -q --no-progress --prefix big/ big.csv -R r.txt
	record send-big
	rm big.csv # room for the pulled copy; the manifest vouches for it
	mkdir bigout
	timed xfer pull -q --no-progress --prefix big/ big.csv.zip.age -d bigout -i k.txt
	record pull-big
	s5 rm "s3://$bucket/big/*" >/dev/null
	rm -rf bigout
fi

if [ -n "$PROFILE" ]; then
	step "CPU profiles of one send and one pull (XFER_CPUPROFILE) in $PROFILE"
	mkdir -p "$PROFILE"
	rm -f "$PROFILE/send.pprof" "$PROFILE/pull.pprof"
	XFER_CPUPROFILE=$PROFILE/send.pprof xfer send -q --no-progress --prefix prof/ in.csv -R r.txt
	XFER_CPUPROFILE=$PROFILE/pull.pprof xfer pull -q --no-progress --prefix prof/ in.csv.zip.age -d prof -i k.txt
	for p in send pull; do
		echo "   $p:"
		go tool pprof -top -nodecount=25 "$bin/xfer" "$PROFILE/$p.pprof" 2>/dev/null | sed 's/^/      /'
	done
	rm -rf prof
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

step "results"
# shellcheck disable=SC2086 # T and M hold space-separated numbers
med() { median ${T[$1]}; } # median wall seconds of NAME
# shellcheck disable=SC2086
medm() { median ${M[$1]}; } # median peak RSS (KiB) of NAME
has() { [ -n "${T[$1]:-}" ]; }
secs() { awk -v s="$1" 'BEGIN { printf "%.2f s", s }'; }
mbs() { awk -v s="$1" -v n="$insize" 'BEGIN { printf "%.0f", n / s / 1e6 }'; }
rss() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
size() { # NAME: output size, as a share of the CSV
	[ -n "${SZ[$1]:-}" ] || { echo "–"; return; }
	awk -v s="${SZ[$1]}" -v n="$insize" 'BEGIN { printf "%.1f MiB (%.1f %%)", s / 1048576, s * 100 / n }'
}
# row STEP TOOL NAME XFERNAME [-]: one row of the table; the ratio is NAME's
# median time over XFERNAME's (peer / xfer: above 1, xfer is faster). With
# "-", no MB/s of CSV (list, shred).
row() {
	has "$3" || return 0 # not in CASES
	local m r="" sz rate=""
	m=$(med "$3")
	sz=$(size "$3")
	[ "$3" = "$4" ] || r="×$(ratio "$m" "$(med "$4")")"
	[ "${5:-}" = - ] || rate=$(mbs "$m")
	echo "| $1 | $2 | $(secs "$m") | $rate | $sz | $(rss "$(medm "$3")") | $r |"
}
for mx in 1 5; do
	[ -z "${SZ[seal-7z$mx]:-}" ] || SZ[send-7z$mx-s5cmd]=${SZ[seal-7z$mx]} SZ[send-7z$mx-rclone]=${SZ[seal-7z$mx]}
done
table=$(
	echo "| step | tool | median time | MB/s of CSV | output | peak RSS | peer / xfer |"
	echo "|---|---|---|---|---|---|---|"
	row seal "\`xfer encrypt\` (level 5)" seal-xfer seal-xfer
	row seal "\`7zz -mx=1\` + \`age -r\`" seal-7z1 seal-xfer
	row seal "\`7zz -mx=5\` + \`age -r\`" seal-7z5 seal-xfer
	row send "\`xfer send\`" send-xfer send-xfer
	for mx in 1 5; do
		row send "\`7zz -mx=$mx\` + \`age\` + \`s5cmd cp\`" "send-7z$mx-s5cmd" send-xfer
		if [ -n "$RCLONE" ]; then
			row send "\`7zz -mx=$mx\` + \`age\` + \`rclone copyto\`" "send-7z$mx-rclone" send-xfer
		elif want send; then
			echo "| send | \`7zz -mx=$mx\` + \`age\` + \`rclone copyto\` | not run: $RCLONE_ERR | | | | |"
		fi
	done
	row compress-only "xfer's deflate pipeline alone, level 5, $(nproc) cores" compress compress
	row pull "\`xfer pull\`" pull-xfer pull-xfer
	row pull "\`s5cmd cp\` + \`age -d\` + \`7zz x\`" pull-peer pull-xfer
	want resume && mrp=$(median "${rp_secs[@]}")
	if ! want resume; then
		:
	elif [ ${#rx_secs[@]} -gt 0 ]; then
		mrx=$(median "${rx_secs[@]}")
		echo "| resume | \`xfer send\` killed at $(median "${rx_kill[@]}") %, run again (${#rx_secs[@]} of $ROUNDS rounds) | $(secs "$mrx") | | sends $(median "${rx_bytes[@]}") % of the object | | |"
		echo "| resume | \`s5cmd cp\` killed at $(median "${rp_kill[@]}") %, run again | $(secs "$mrp") | | sends $(median "${rp_bytes[@]}") % of the object | | ×$(ratio "$mrp" "$mrx") |"
	else
		echo "| resume | \`xfer send\` | not measured: it always finished before half way (a larger SIZE or a lower LINK_KBPS) | | | | |"
		echo "| resume | \`s5cmd cp\` killed at $(median "${rp_kill[@]}") %, run again | $(secs "$mrp") | | sends $(median "${rp_bytes[@]}") % of the object | | |"
	fi
	row "many: send $MANY_N × $MANY_SIZE" "\`xfer send\` of them all" many-send-xfer many-send-xfer -
	row "many: send $MANY_N × $MANY_SIZE" "a loop of \`7zz -mx=5\` + \`age\` + \`s5cmd cp\`" many-send-peer many-send-xfer -
	row "many: pull $MANY_N × $MANY_SIZE" "\`xfer pull --all\`" many-pull-xfer many-pull-xfer -
	row "many: pull $MANY_N × $MANY_SIZE" "a loop of \`s5cmd cp\` + \`age -d\` + \`7zz x\`" many-pull-peer many-pull-xfer -
	row "list $LIST_N" "\`xfer list\` (metadata cache from the last list)" list-xfer list-xfer -
	row "list $LIST_N" "\`xfer list --fresh\` (a HEAD per object: a first list)" list-xfer-fresh list-xfer-fresh -
	row "list $LIST_N" "\`s5cmd ls\`" list-s5cmd list-xfer -
	row "shred $SHRED_N × $SHRED_VERSIONS" "\`xfer shred --yes\`" shred-xfer shred-xfer -
	row "shred $SHRED_N × $SHRED_VERSIONS" "\`s5cmd rm --all-versions\`" shred-s5cmd shred-xfer -
)
# The targets of issues 7 and 17. verdict RATIO GOAL: "met" when RATIO >=
# GOAL; at_most: when RATIO <= GOAL. Targets whose steps did not run are
# left out.
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g) ? "met" : "not met" }'; }
at_most() { awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "met" : "not met" }'; }
# over_link NAME WHAT GOAL: a target row "WHAT ≤ GOAL × the time the link
# alone needs for the sealed object" (xfer send's output).
over_link() {
	local t l r
	t=$(med "$1")
	l=$(awk -v b="${SZ[send-xfer]}" -v r="$link_bps" 'BEGIN { printf "%.2f", b * 8 / r }')
	r=$(ratio "$t" "$l")
	echo "| $2 ≤ $3× the link time alone ($LINK) | $(secs "$t") vs $(secs "$l") for $(size send-xfer) | ×$r (goal ×$3) | $(at_most "$r" "$3") |"
}
targets=$(
	echo "| target | measured | ratio | |"
	echo "|---|---|---|---|"
	if has send-xfer; then
		send_t=$(med send-xfer) send_sz=${SZ[send-xfer]}
		best="" best_t=""
		for n in send-7z1-s5cmd send-7z5-s5cmd send-7z1-rclone send-7z5-rclone; do
			has "$n" || continue
			[ "${SZ[$n]}" -ge "$send_sz" ] || continue
			t=$(med "$n")
			if [ -z "$best_t" ] || awk -v a="$t" -v b="$best_t" 'BEGIN { exit !(a < b) }'; then best=$n best_t=$t; fi
		done
		if [ -n "$best" ]; then
			r=$(ratio "$best_t" "$send_t")
			best=${best#send-7z} best=${best/-/ + age + }
			echo "| send ≥ 2× the fastest peer chain whose output is no smaller | \`xfer send\` $(secs "$send_t") vs 7zz -mx=$best $(secs "$best_t") | ×$r (goal ×2.00) | $(verdict "$r" 2) |"
		else
			echo "| send ≥ 2× the fastest peer chain whose output is no smaller | no peer chain's output was as large as xfer's ($(size send-xfer)) | | not judged |"
		fi
		[ -z "$LINK" ] || over_link send-xfer "send" 1.05
		r=$(ratio "$(med compress)" "$send_t")
		echo "| send ≥ 85 % of compress-only throughput | $(mbs "$send_t") vs $(mbs "$(med compress)") MB/s of CSV | $(awk -v r="$r" 'BEGIN { printf "%.0f %%", r * 100 }') (goal 85 %) | $(verdict "$r" 0.85) |"
	fi
	if has pull-xfer; then
		r=$(ratio "$(med pull-peer)" "$(med pull-xfer)")
		goal=1.5
		[ -n "$LINK" ] || goal=1.3
		echo "| pull ≥ ${goal}× the peer chain${LINK:+ over $LINK} | \`xfer pull\` $(secs "$(med pull-xfer)") vs $(secs "$(med pull-peer)") | ×$r (goal ×$goal) | $(verdict "$r" "$goal") |"
		[ -z "$LINK" ] || over_link pull-xfer "pull" 1.15
	fi
	for n in send pull; do
		has "$n-xfer" || continue
		k=$(medm "$n-xfer")
		echo "| peak RSS of $n < 200 MiB at $SIZE | $(rss "$k") | $(awk -v k="$k" 'BEGIN { printf "%.0f %%", k / 1024 / 2 }') of the limit | $(verdict $((200 * 1024)) "$k") |"
	done
	if has send-big; then
		for n in send pull; do
			k=$(medm "$n-big")
			echo "| peak RSS of $n < 200 MiB at $BIG | $(rss "$k") ($(secs "$(med "$n-big")"), $(awk -v s="$(med "$n-big")" -v n="$bigsize" 'BEGIN { printf "%.0f", n / s / 1e6 }') MB/s of CSV) | $(awk -v k="$k" 'BEGIN { printf "%.0f %%", k / 1024 / 2 }') of the limit | $(verdict $((200 * 1024)) "$k") |"
		done
	elif has send-xfer; then
		echo "| peak RSS < 200 MiB at a larger size | not measured in this run (\`BIG=8GiB\`) | | |"
	fi
	for n in send pull; do
		has "many-$n-xfer" || continue
		r=$(ratio "$(med "many-$n-peer")" "$(med "many-$n-xfer")")
		echo "| $n of $MANY_N files of $MANY_SIZE ≥ 3× a loop of the chain | \`xfer $n\` $(secs "$(med "many-$n-xfer")") vs $(secs "$(med "many-$n-peer")") | ×$r (goal ×3.00) | $(verdict "$r" 3) |"
	done
	if has list-xfer; then
		r=$(ratio "$(med list-s5cmd)" "$(med list-xfer)")
		echo "| list no slower than s5cmd | \`xfer list\` $(secs "$(med list-xfer)") vs $(secs "$(med list-s5cmd)") | ×$r (goal ×1.00) | $(verdict "$r" 1) |"
		r=$(ratio "$(med list-s5cmd)" "$(med list-xfer-fresh)")
		echo "| the same, the first list (\`--fresh\`) | $(secs "$(med list-xfer-fresh)") vs $(secs "$(med list-s5cmd)") | ×$r (goal ×1.00) | $(verdict "$r" 1) |"
	fi
	if has shred-xfer; then
		r=$(ratio "$(med shred-s5cmd)" "$(med shred-xfer)")
		echo "| shred no slower than s5cmd | $(secs "$(med shred-xfer)") vs $(secs "$(med shred-s5cmd)") | ×$r (goal ×1.00) | $(verdict "$r" 1) |"
	fi
)
rclone_desc="rclone $RCLONE_VERSION"
[ -n "$RCLONE" ] || rclone_desc="rclone not built"
machine="$(nproc) cores ($cpu_model), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Go $(go env GOVERSION), MinIO $minio_version, 7-Zip $v7zz, age $(age --version), s5cmd $S5CMD_VERSION, $rclone_desc; xfer $xfer_version"
report=$(
	echo "<!-- $MARK:begin -->"
	echo "<!-- Written by bench/compare.sh; edits between the markers are overwritten. -->"
	echo "\`SIZE=$SIZE ROUNDS=$ROUNDS${BIG:+ BIG=$BIG}${LINK:+ LINK=$LINK} CASES=\"$CASES\" ./bench/compare.sh\`, $date_start: $(awk -v n="$insize" 'BEGIN { printf "%.0f", n / 1048576 }') MiB of generated address CSV, MinIO on loopback. Machine: $machine. Load average (1, 5, 15 min) at the start $load_start, at the end $load_end."
	echo
	echo "Medians of $ROUNDS rounds; \"peer / xfer\" is the peer's median time over xfer's (above 1: xfer is faster).$(want resume && echo " Resume runs go through toxiproxy at $((LINK_KBPS / 1000)) MB/s over $CONC connections.")${LINK:+ Send, pull and the many-files case ran over loopback capped at $LINK for everything (tc tbf on lo: both directions share it).}"
	echo
	echo "$table"
	echo
	echo "Targets of issues 7 and 17 on these numbers:"
	echo
	echo "$targets"
	echo "<!-- $MARK:end -->"
)
echo "$report"
if [ -n "$DOC" ]; then
	case $DOC in /*) doc=$DOC ;; *) doc=$repo/$DOC ;; esac
	if grep -q "^<!-- $MARK:begin -->\$" "$doc"; then
		printf '%s\n' "$report" >"$work/report.md"
		awk -v f="$work/report.md" -v b="<!-- $MARK:begin -->" -v e="<!-- $MARK:end -->" '
			$0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
			$0 == e { skip = 0; next }
			!skip' "$doc" >"$work/doc.md"
		cat "$work/doc.md" >"$doc"
	else
		printf '\n%s\n' "$report" >>"$doc"
	fi
	echo "written into $DOC"
fi
