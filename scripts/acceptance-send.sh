#!/usr/bin/env bash
# Acceptance run for `xfer send`: the evidence the send issue asks for, on a
# generated address CSV of SIZE (default 1GiB), against real S3 servers on
# 127.0.0.1 (MinIO and versitygw at the versions pinned in internal/testkit/s3test).
#
#   1. interop: `xfer send` to MinIO and to versitygw; the object is fetched
#      with s5cmd and opened with stock `age -d` + `7zz x`: byte-identical.
#   2. resume: `xfer send` over a link capped at LINK_KBPS (default 20000
#      KB/s = 20 MB/s, toxiproxy's bandwidth toxic on the upstream stream in
#      front of MinIO) is killed with SIGKILL half way through the upload
#      (once its journal records half of the sealed spool acknowledged by
#      the server; a spool is only resumable once sealed, and at 20 MB/s
#      sealing 1 GiB ends about half way, so the kill may come later than
#      50 %), and the same command is run again. What the second run uploads is
#      measured twice: from xfer's own --json "sent" event (bytes −
#      resumed_bytes) and from toxiproxy's byte counters (bytes the proxy
#      received from xfer, HTTP included). Target: both < 60 % of the object
#      + one part per upload slot; the object opens to the input; no
#      unfinished upload is left (ListMultipartUploads on the key).
#   3. memory: peak RSS (/usr/bin/time %M) of `xfer send` with default
#      settings of SIZE and of BIG (default 4GiB). Target: < 200 MiB.
#   4. speed: `xfer send` vs `xfer encrypt` + `s5cmd cp` of the same file to
#      MinIO, alternated RUNS times (default 5, order swapped every round);
#      medians and their ratio are reported, never judged on one timing.
#
# Before each measurement the 1-minute load average is printed; above
# LOAD_MAX (default 1.5: the machines are shared) the script waits, up to
# LOAD_WAIT seconds (default 300), and then measures anyway, saying so.
#
# It installs what it needs: Debian's 7zip, age, libarchive-tools, time and
# jq (apt-get), s5cmd at S5CMD_VERSION built from the Go module proxy into
# .cache/bin, and the pinned servers (go run ./internal/testkit/s3test/cmd/buildservers,
# cached; MinIO takes minutes the first time). Servers and the proxy run
# from internal/cmd/s3serve and internal/cmd/toxi, on loopback only, and
# are stopped when the script exits, however it exits. Everything else
# lives in a temporary directory (WORK=DIR to choose it, KEEP=1 to keep it).
#
# Prints one line per check and a summary table; exits non-zero when a check
# of 1-3 fails. Needs Go 1.26, root (or sudo) for apt-get, and about
# SIZE + BIG + 2 GiB of free disk. Takes 5 to 15 minutes on 2 cores.
#
#   ./scripts/acceptance-send.sh
#   SIZE=256MiB BIG=1GiB RUNS=3 ./scripts/acceptance-send.sh   # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SIZE=${SIZE:-1GiB}
BIG=${BIG:-4GiB}
RUNS=${RUNS:-5}
LINK_KBPS=${LINK_KBPS:-20000}
CONC=${CONC:-4} # upload slots of the resume run (xfer's default)
LOAD_MAX=${LOAD_MAX:-1.5}
LOAD_WAIT=${LOAD_WAIT:-300}
repo=$PWD
acceptance_begin
# field FILE NAME: NAME of the "sent" event in an NDJSON file.
field() { jq -r "select(.event == \"sent\") | .$2" "$1"; }

step "installing tools"
install_debian_tools >/dev/null
install_missing /usr/bin/time:time jq:jq
install_s5cmd
echo "7zz $(7zz i | awk '/^7-Zip/ { print $3; exit }'), age $(age --version), s5cmd $S5CMD_VERSION (module proxy), jq $(jq --version)"
build_servers "$work/buildservers.log"

bin=$work/bin
go build -trimpath -o "$bin/" ./cmd/xfer ./internal/cmd/gencsv ./internal/cmd/s3serve ./internal/cmd/toxi ./internal/cmd/s3tool
PATH=$bin:$PATH
echo "xfer $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '(no git checkout)'), Go $(go env GOVERSION), $(nproc) cores"
cd "$work"

declare -A srvpid
# start_server NAME: runs s3serve in the background, waits for its env file.
start_server() {
	start_s3serve "$1" "$work" || exit 1
	bgpids+=("$S3SERVE_PID")
	srvpid[$1]=$S3SERVE_PID
}
# use_server NAME: points xfer, s3tool and s5cmd at the server.
use_server() { set -a && source "$work/$1.env" && set +a; }
s5() { "$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" "$@"; }
# opens_to_input OBJECTKEY: fetches the object with s5cmd and opens it with
# age -d and 7zz x; true when it gives the input back byte for byte.
opens_to_input() {
	rm -rf dl.age inner.zip 7z
	s5 cp "s3://$XFER_BUCKET/$1" dl.age >/dev/null &&
		age -d -i k.txt -o inner.zip dl.age &&
		7zz x -p"$XFER_ZIP_PASSWORD" -o7z inner.zip >/dev/null &&
		cmp -s 7z/in.csv in.csv
	local ok=$?
	rm -rf dl.age inner.zip 7z
	return $ok
}

step "generating $SIZE of address CSV; keys"
gencsv -size "$SIZE" -o in.csv
insize=$(stat -c %s in.csv)
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache XFER_ZIP_PASSWORD=Acceptance-Passw0rd
xfer keygen -o k.txt >r.txt 2>/dev/null
start_server minio
start_server versitygw

for srv in minio versitygw; do
	step "1. xfer send $SIZE to $srv; s5cmd cp + age -d + 7zz x"
	use_server "$srv"
	quiet_machine
	if ! /usr/bin/time -f '%e' -o t.txt xfer send --json --no-progress --prefix interop/ in.csv -R r.txt >sent.ndjson; then
		result "1. send + stock tools open it ($srv)" "xfer send failed" "byte-identical" FAIL
		continue
	fi
	obj=$(field sent.ndjson bytes) key=$(field sent.ndjson key)
	echo "   sent in $(cat t.txt) s: $key, $obj bytes ($(awk -v o="$obj" -v i="$insize" 'BEGIN { printf "%.1f", o * 100 / i }') % of the CSV), $(field sent.ndjson parts) parts"
	if opens_to_input "$key"; then
		echo "   s5cmd cp, age -d, 7zz x: byte-identical to the input"
		result "1. send + stock tools open it ($srv)" "byte-identical, object $(mib "$obj")" "byte-identical" OK
	else
		echo "   s5cmd cp, age -d, 7zz x: NOT the input"
		result "1. send + stock tools open it ($srv)" "differs or failed" "byte-identical" FAIL
	fi
	s5 rm "s3://$XFER_BUCKET/$key" >/dev/null
done
kill "${srvpid[versitygw]}" # versitygw is done

step "2. kill -9 half way over a $((LINK_KBPS / 1000)) MB/s link, then the same command again"
use_server minio
rate=$((LINK_KBPS / CONC))
start_toxi upstream "$rate"
echo "   toxiproxy $LISTEN -> MinIO, bandwidth toxic on upstream: $rate KB/s a connection × $CONC upload slots = $LINK_KBPS KB/s"
# proxy_bytes: the bytes toxiproxy took from xfer (upstream, received).
proxy_bytes() {
	local c
	c=$(toxi_settled upstream)
	echo "${c%% *}"
}
resume_cmd=(env XFER_ENDPOINT="http://$LISTEN" "$bin/xfer" send --json --prefix resume/ --concurrency "$CONC" in.csv -R r.txt)
quiet_machine
kill_send_half_way run1.ndjson run1.err "${resume_cmd[@]}"
if [ -z "$killed" ]; then
	cat run1.err
	echo "   the first run ended (exit $rc1) before it was half way"
	result "2. resume after kill -9" "first run not killed" "resumes" FAIL
else
	read -r kbytes ktotal <<<"$killed"
	journal=$(ls "$XDG_CACHE_HOME"/xfer/spool/*.journal)
	partsize=$(jq .part_size "$journal")
	echo "   first run: kill -9 (exit $rc1) when its journal recorded $kbytes of $ktotal bytes ($((kbytes * 100 / ktotal)) %) acknowledged; journal at the kill: sealed=$(jq .sealed "$journal"), part size $(mib "$partsize"), $(jq '.parts | length' "$journal") parts recorded"
	before=$(proxy_bytes)
	quiet_machine
	t0=$(date +%s.%N)
	"${resume_cmd[@]}" >run2.ndjson 2>run2.err && rc2=0 || rc2=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	after=$(proxy_bytes)
	obj=$(field run2.ndjson bytes) resumed=$(field run2.ndjson resumed_bytes) key=$(field run2.ndjson key)
	if [ "$rc2" != 0 ] || [ -z "$obj" ]; then
		cat run2.err
		result "2. resume after kill -9" "second run exit $rc2" "completes" FAIL
	else
		xsent=$((obj - resumed))
		wire=$((after - before))
		limit=$(awk -v o="$obj" -v p="$partsize" -v c="$CONC" 'BEGIN { printf "%d", o * 0.6 + c * p }')
		pct() { awk -v a="$1" -v o="$obj" 'BEGIN { printf "%.1f %%", a * 100 / o }'; }
		echo "   second run: exit 0 in $secs s; object $obj bytes, resumed_bytes $resumed ($(pct "$resumed"): what the first run had stored)"
		echo "   uploaded by the second run, xfer's count (bytes - resumed_bytes): $xsent = $(pct "$xsent") of the object"
		echo "   uploaded by the second run, toxiproxy's count (upstream bytes in): $wire = $(pct "$wire") ($(awk -v w="$wire" -v s="$secs" 'BEGIN { printf "%.1f", w / s / 1e6 }') MB/s over the run)"
		echo "   limit: 60 % of the object + $CONC × $(mib "$partsize") = $limit = $(pct "$limit")"
		ok=OK
		[ "$xsent" -lt "$limit" ] || ok=FAIL
		result "2a. second run uploads, xfer --json" "$xsent B = $(pct "$xsent")" "< $limit B ($(pct "$limit"))" $ok
		ok=OK
		[ "$wire" -lt "$limit" ] || ok=FAIL
		result "2b. second run uploads, toxiproxy" "$wire B = $(pct "$wire")" "< $limit B ($(pct "$limit"))" $ok
		if opens_to_input "$key"; then
			echo "   s5cmd cp, age -d, 7zz x: byte-identical to the input"
			result "2c. resumed object opens to the input" "byte-identical" "byte-identical" OK
		else
			echo "   s5cmd cp, age -d, 7zz x: NOT the input"
			result "2c. resumed object opens to the input" "differs or failed" "byte-identical" FAIL
		fi
		left=$(s3tool uploads "$key" | head -n 1)
		spool=$(find "$XDG_CACHE_HOME/xfer/spool" -type f | wc -l)
		echo "   ListMultipartUploads $key: $left unfinished; local spool files left: $spool"
		ok=OK
		[ "$left" = 0 ] && [ "$spool" = 0 ] || ok=FAIL
		result "2d. nothing unfinished left" "$left uploads, $spool spool files" "0, 0" $ok
		s5 rm "s3://$XFER_BUCKET/$key" >/dev/null
	fi
fi
kill "$toxipid" # the proxy

step "3. peak RSS of xfer send, default settings"
rss() { # LABEL FILE
	quiet_machine
	/usr/bin/time -f '%e %M' -o t.txt xfer send --json --no-progress --prefix rss/ "$2" -R r.txt >sent.ndjson
	read -r secs kib <t.txt
	local obj key
	obj=$(field sent.ndjson bytes) key=$(field sent.ndjson key)
	awk -v l="$1" -v s="$secs" -v k="$kib" -v n="$(stat -c %s "$2")" -v o="$obj" 'BEGIN {
		printf "   %-6s %6.2f s  %6.1f MB/s of CSV  object %.1f MiB  peak RSS %.1f MiB\n", l, s, n / s / 1e6, o / 1048576, k / 1024 }'
	local ok=OK
	[ "$kib" -lt $((200 * 1024)) ] || ok=FAIL
	result "3. peak RSS, send $1" "$(awk -v k="$kib" 'BEGIN { printf "%.1f MiB", k / 1024 }')" "< 200 MiB" $ok
	s5 rm "s3://$XFER_BUCKET/$key" >/dev/null
}
rss "$SIZE" in.csv
gencsv -size "$BIG" -seed 2 -o big.csv 2>/dev/null
rss "$BIG" big.csv
rm big.csv

step "4. speed: xfer send vs xfer encrypt + s5cmd cp, $SIZE, $RUNS rounds"
sends=() pipes=() encs=() cps=() sendcpu=() pipecpu=()
# cpu FILE: user + system seconds from a /usr/bin/time '%e %U %S' file.
cpu() { awk '{ print $2 + $3 }' "$1"; }
run_send() {
	quiet_machine
	/usr/bin/time -f '%e %U %S' -o t.txt xfer send -q --no-progress --prefix speed/ --as "send-$1.csv" in.csv -R r.txt
	sends+=("$(cut -d' ' -f1 t.txt)") sendcpu+=("$(cpu t.txt)")
	echo "   round $1: xfer send             ${sends[-1]} s  (xfer CPU ${sendcpu[-1]} s)"
	s5 rm "s3://$XFER_BUCKET/speed/send-$1.csv.zip.age" >/dev/null
}
run_pipe() {
	quiet_machine
	/usr/bin/time -f '%e %U %S' -o t1.txt xfer encrypt -q in.csv -R r.txt -o sealed.age
	/usr/bin/time -f '%e %U %S' -o t2.txt "$S5CMD" --log error --endpoint-url "$XFER_ENDPOINT" cp sealed.age "s3://$XFER_BUCKET/speed/s5cmd-$1.csv.zip.age" >/dev/null
	local e c
	e=$(cut -d' ' -f1 t1.txt) c=$(cut -d' ' -f1 t2.txt)
	encs+=("$e") cps+=("$c") pipes+=("$(awk -v a="$e" -v b="$c" 'BEGIN { print a + b }')")
	pipecpu+=("$(awk -v a="$(cpu t1.txt)" -v b="$(cpu t2.txt)" 'BEGIN { print a + b }')")
	echo "   round $1: xfer encrypt + s5cmd cp $e + $c = ${pipes[-1]} s  (xfer + s5cmd CPU ${pipecpu[-1]} s)"
	rm sealed.age
	s5 rm "s3://$XFER_BUCKET/speed/s5cmd-$1.csv.zip.age" >/dev/null
}
for i in $(seq "$RUNS"); do
	if [ $((i % 2)) = 1 ]; then
		run_send "$i"
		run_pipe "$i"
	else
		run_pipe "$i"
		run_send "$i"
	fi
done
ms=$(median "${sends[@]}") mp=$(median "${pipes[@]}")
ratio=$(awk -v s="$ms" -v p="$mp" 'BEGIN { printf "%.2f", p / s }')
echo "   medians: xfer send $ms s ($(awk -v n="$insize" -v s="$ms" 'BEGIN { printf "%.0f", n / s / 1e6 }') MB/s of CSV); encrypt $(median "${encs[@]}") s + s5cmd cp $(median "${cps[@]}") s, summed per round $mp s"
echo "   ratio (encrypt + s5cmd) / send: $ratio (above 1: send is faster)"
echo "   client CPU medians (user + sys, the server's not counted): send $(median "${sendcpu[@]}") s, encrypt + s5cmd $(median "${pipecpu[@]}") s, on $(nproc) cores"
verdict="meets the target"
awk -v r="$ratio" 'BEGIN { exit !(r >= 1) }' || verdict="below the target"
result "4. speed, median of $RUNS (not a pass/fail)" "send $ms s vs encrypt + s5cmd $mp s: ×$ratio" "send at least as fast (≥ 1.00)" "INFO: $verdict"

print_summary
