#!/usr/bin/env bash
# The scale of one exchange with many clients (issue 19): SCALE_N objects
# (100,000) over SCALE_PREFIXES client prefixes (2,000) under clients/, in
# MinIO on loopback, listed and pulled (--dry-run) by xfer, and listed by
# s5cmd ls on the same bucket, ROUNDS times (3), xfer and s5cmd taking
# turns to go first:
#
#   xfer list --fresh     cold: a HEAD per object, as a new machine's list
#   xfer list             warm: metadata from the list cache
#   xfer pull --all --dry-run [--group g]
#                         what is new, and the plan of every pull
#   s5cmd ls 's3://BUCKET/clients/*'
#
# The objects are seeded through the S3 API (s3tool seed, 64 at a time):
# named as send names them, with the metadata send records, a few hundred
# random bytes each (not sealed files: list and pull --all's decision read
# the listing and the metadata, never the content). Seeding 100,000 takes
# minutes; sealing and sending as many would take hours.
#
# Medians of the wall time (/usr/bin/time) and the ratio s5cmd / xfer are
# written, with the machine, the date and the load average at the start
# and the end, into DOC (default docs/performance.md) between the markers
# <!-- scale:begin --> and <!-- scale:end --> (appended when missing);
# DOC= leaves the file alone. PROFILE=DIR also takes a CPU profile
# (XFER_CPUPROFILE) of one warm list into DIR and prints its top.
#
#   ./bench/scale.sh                                  # 100,000 over 2,000
#   SCALE_N=20000 SCALE_PREFIXES=400 DOC= ./bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SCALE_N=${SCALE_N:-100000}
SCALE_PREFIXES=${SCALE_PREFIXES:-2000}
ROUNDS=${ROUNDS:-3}
DOC=${DOC-docs/performance.md}
PROFILE=${PROFILE:-}
export LOAD_MAX=${LOAD_MAX:-1.5} LOAD_WAIT=${LOAD_WAIT:-0}
repo=$PWD
acceptance_begin
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
date_start=$(date -u '+%Y-%m-%d %H:%M UTC')

step "tools, MinIO"
install_missing /usr/bin/time:time
install_s5cmd
build_servers "$work/buildservers.log" minio
minio_version=$(basename "$(ls -d "$XFER_TEST_BIN"/minio-*)")
minio_version=${minio_version#minio-}
bin=$work/bin
go build -trimpath -o "$bin/" ./cmd/xfer ./internal/cmd/s3serve ./internal/cmd/s3tool
PATH=$bin:$PATH
xfer_version=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo '(no git checkout)')
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cd "$work"
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache XFER_ZIP_PASSWORD=Bench-Passw0rd-7
xfer keygen -o k.txt >/dev/null 2>&1
start_s3serve minio "$work" || exit 1
bgpids+=("$S3SERVE_PID")
# shellcheck source=/dev/null
set -a && source "$work/minio.env" && set +a
bucket=$XFER_BUCKET
s5() { "$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" "$@"; }
echo "xfer $xfer_version, MinIO $minio_version at $XFER_ENDPOINT, s5cmd $S5CMD_VERSION"

step "seeding $SCALE_N objects over $SCALE_PREFIXES client prefixes"
s3tool seed clients/ "$SCALE_N" "$SCALE_PREFIXES"
n=$("$S5CMD" --endpoint-url "$XFER_ENDPOINT" ls "s3://$bucket/clients/*" | wc -l) # listings print at log level info
echo "   s5cmd ls counts $n objects"
[ "$n" = "$SCALE_N" ] || { echo "   want $SCALE_N"; exit 1; }

# The CPU seconds MinIO spends on a command tell, on a shared machine,
# what its wall time hides: how much of it is the server's work.
minio_pid=$(pgrep -P "$S3SERVE_PID" | head -n 1)
server_cpu() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$minio_pid/stat"; }
declare -A T C S
timed() { # NAME CMD...: runs CMD, adds its wall, CPU and MinIO CPU seconds to T, C and S[NAME]
	local name=$1 e u s m0 m1
	shift
	m0=$(server_cpu)
	/usr/bin/time -f '%e %U %S' -o "$work/t.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || {
		echo "   failed: $*"
		cat "$work/err.txt"
		return 1
	}
	m1=$(server_cpu)
	read -r e u s < <(tail -n 1 "$work/t.txt")
	u=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
	s=$(awk -v a="$m0" -v b="$m1" 'BEGIN { print b - a }')
	T[$name]+="$e " C[$name]+="$u " S[$name]+="$s "
	printf '   %-16s %7.2f s (CPU: client %s s, MinIO %s s)\n' "$name" "$e" "$u" "$s"
}
xfer_round() {
	# Cold: a HEAD per object (as on a new machine, or after a change of
	# every file), with the split keys of the last listing.
	timed list-fresh xfer list --fresh --prefix clients/
	[ "$(wc -l <"$work/out.txt")" = "$SCALE_N" ] || { echo "   xfer list printed $(wc -l <"$work/out.txt") lines"; return 1; }
	timed list-warm xfer list --prefix clients/
	timed pull-dry xfer pull --all --dry-run --prefix clients/ -d "$work/out" -i k.txt
	timed pull-dry-group xfer pull --all --dry-run --group g --prefix clients/ -d "$work/out" -i k.txt
	[ "$(grep -c '^would pull' "$work/err.txt" "$work/out.txt" | awk -F: '{ s += $2 } END { print s }')" = "$SCALE_N" ] ||
		echo "   pull --dry-run did not plan $SCALE_N pulls"
}
peer_round() {
	timed s5cmd-ls "$S5CMD" --endpoint-url "$XFER_ENDPOINT" ls "s3://$bucket/clients/*"
}
step "$ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
	echo "   round $r"
	quiet_machine
	if [ $((r % 2)) = 1 ]; then xfer_round && peer_round; else peer_round && xfer_round; fi
done

if [ -n "$PROFILE" ]; then
	step "CPU profile of a warm list in $PROFILE"
	mkdir -p "$PROFILE"
	XFER_CPUPROFILE=$PROFILE/list.pprof xfer list --prefix clients/ >/dev/null
	go -C "$repo" tool pprof -top -nodecount=30 "$bin/xfer" "$PROFILE/list.pprof" 2>/dev/null | sed 's/^/      /'
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

step "results"
# shellcheck disable=SC2086 # T, C and S hold space-separated numbers
med() { median ${T[$1]}; }
# shellcheck disable=SC2086
cpu() { echo "$(secs "$(median ${C[$1]})") | $(secs "$(median ${S[$1]})")"; }
secs() { awk -v s="$1" 'BEGIN { printf "%.2f s", s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "×%.2f", a / b }'; }
peer=$(med s5cmd-ls)
row() { echo "| $1 | $(secs "$(med "$2")") | $(cpu "$2") | $(ratio "$peer" "$(med "$2")") |"; }
machine="$(nproc) cores ($cpu_model), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Go $(go env GOVERSION), MinIO $minio_version, s5cmd $S5CMD_VERSION; xfer $xfer_version"
report=$(
	echo "<!-- scale:begin -->"
	echo "<!-- Written by bench/scale.sh; edits between the markers are overwritten. -->"
	echo "\`SCALE_N=$SCALE_N SCALE_PREFIXES=$SCALE_PREFIXES ROUNDS=$ROUNDS ./bench/scale.sh\`, $date_start: $SCALE_N objects over $SCALE_PREFIXES client prefixes under \`clients/\`, MinIO on loopback. Machine: $machine. Load average (1, 5, 15 min) at the start $load_start, at the end $load_end."
	echo
	echo "| command | median wall time of $ROUNDS | CPU of the command | CPU of MinIO | s5cmd / xfer (wall) |"
	echo "|---|---|---|---|---|"
	row "\`xfer list --fresh --prefix clients/\` (cold: a HEAD per object)" list-fresh
	row "\`xfer list --prefix clients/\` (warm: the list cache)" list-warm
	row "\`xfer pull --all --dry-run --prefix clients/\` (all $SCALE_N new)" pull-dry
	row "\`xfer pull --all --dry-run --group g --prefix clients/\`" pull-dry-group
	echo "| \`s5cmd ls 's3://BUCKET/clients/*'\` | $(secs "$peer") | $(cpu s5cmd-ls) | |"
	echo "<!-- scale:end -->"
)
echo "$report"
if [ -n "$DOC" ]; then
	printf '%s\n' "$report" >"$work/report.md"
	case $DOC in /*) doc=$DOC ;; *) doc=$repo/$DOC ;; esac
	write_report "$doc" scale "$work/report.md"
	echo "written into $DOC"
fi
