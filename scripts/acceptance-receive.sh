#!/usr/bin/env bash
# Acceptance run for the receiving side (`xfer pull`, `fetch`, `shred`): the
# evidence the receive issue asks for, on generated address CSVs (one of
# SIZE, default 1GiB, and small ones of SMALL, default 1MiB), against MinIO
# on 127.0.0.1 at the version pinned in internal/testkit/s3test.
#
#   1. pull --all: three files are sent (one of SIZE, two of SMALL) and
#      `xfer pull --all -d DIR` writes three CSVs, each byte-identical to
#      its original (cmp); a second `pull --all` pulls nothing and says so.
#   2. tampering, with s3tool standing in for someone who can write to the
#      bucket but holds no key: (a) one byte in the middle of a stored
#      object is flipped and the object written back with its metadata (the
#      server then holds a checksum of the changed bytes, so only xfer's own
#      checks can notice): `xfer pull NAME` must exit 4 and leave DIR empty,
#      no CSV and no temporary file; (b) the object is replaced by a valid
#      upload sealed to another age key (`xfer send --overwrite` of the same
#      name to another recipient): `xfer pull` must exit 3 and leave DIR
#      empty. As a control, the other key's owner pulls it fine.
#   3. resume: `xfer fetch` of the SIZE object through toxiproxy (toxi, a
#      bandwidth toxic on the downstream stream, server to client, capped at
#      LINK_KBPS in all; default: what makes the download take about 40 s)
#      is killed with SIGKILL once its --json progress passes 50 %, and the
#      same command is run again through the same proxy. What the second
#      run downloads is measured twice: from xfer's own --json "fetched"
#      event (bytes - resumed_bytes) and from toxiproxy's downstream byte
#      counters read before and after it, once they stand still (bytes the
#      proxy took from MinIO and delivered to xfer, HTTP included; the
#      larger counts). Target: both < 60 % of the object. The result must be
#      byte-identical to a copy fetched in one go, and decrypt to the CSV.
#      3d, for information only: the same kill, then a re-run directly
#      against MinIO instead of through the proxy (another endpoint URL).
#   4. shred on a versioned bucket (the second bucket s3test creates on every
#      server, with versioning enabled; it is verified here by counting
#      versions): a name is sent, then sent again with --overwrite (two
#      versions); s3tool adds a delete marker (a plain DELETE) and leaves an
#      unfinished multipart upload of the key; `xfer shred NAME --yes`;
#      then s3tool lists no version, no delete marker and no unfinished
#      upload of the key.
#   5. memory: peak RSS (/usr/bin/time %M) of `xfer pull` of the SIZE file
#      with default settings. Target: < 200 MiB.
#
# It installs what it needs: time and jq (apt-get), and the pinned servers
# (go run ./internal/testkit/s3test/cmd/buildservers, cached; MinIO takes minutes
# the first time). MinIO and the proxy run from internal/cmd/s3serve and
# internal/cmd/toxi, on loopback only, and are stopped when the script
# exits, however it exits. Everything else lives in a temporary directory
# (WORK=DIR to choose it, KEEP=1 to keep it).
#
# Prints what each check ran and saw, then a summary table; exits non-zero
# when a check fails. Needs Go 1.26, root (or sudo) for apt-get, and about
# 5 × SIZE of free disk. Takes about 5 minutes on 2 cores at 1GiB.
#
#   ./scripts/acceptance-receive.sh
#   SIZE=64MiB ./scripts/acceptance-receive.sh   # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SIZE=${SIZE:-1GiB}
SMALL=${SMALL:-1MiB}
LINK_KBPS=${LINK_KBPS:-} # default: set from the object's size in check 3
CONC=${CONC:-4}          # ranges fetched at once in check 3 (xfer's default)
# VBUCKET is s3test's versioned bucket (versionedBucketName in
# internal/testkit/s3test/server.go); s3serve's env file names only the plain one.
VBUCKET=${VBUCKET:-xfer-test-versioned}
repo=$PWD
acceptance_begin
# files DIR: how many entries DIR holds, hidden ones (temporary files) included.
files() { find "$1" -mindepth 1 -maxdepth 1 | wc -l; }
# spools: how many download spool and journal files the cache holds.
spools() { find "$spooldir" -name '*.fetch*' 2>/dev/null | wc -l; }
# journal_of KEY: the download journal of KEY.
journal_of() {
	local j
	for j in "$spooldir"/*.fetch.journal; do
		[ -f "$j" ] && jq -e --arg k "$1" '.key == $k' "$j" >/dev/null && echo "$j" && return
	done
	return 0
}

step "installing tools"
install_missing /usr/bin/time:time jq:jq cmp:diffutils
echo "jq $(jq --version), GNU time at /usr/bin/time"
build_servers "$work/buildservers.log"

bin=$work/bin
go build -trimpath -o "$bin/" ./cmd/xfer ./internal/cmd/gencsv ./internal/cmd/s3serve ./internal/cmd/toxi ./internal/cmd/s3tool
PATH=$bin:$PATH
echo "xfer $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '(no git checkout)'), Go $(go env GOVERSION), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$work"

step "generating CSVs ($SIZE, 2 × $SMALL), keys; starting MinIO"
gencsv -size "$SIZE" -o in.csv
gencsv -size "$SMALL" -seed 2 -o small1.csv 2>/dev/null
gencsv -size "$SMALL" -seed 3 -o small2.csv 2>/dev/null
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache XFER_ZIP_PASSWORD=Acceptance-Passw0rd
xfer keygen -o k.txt >r.txt 2>/dev/null
xfer keygen -o k2.txt >r2.txt 2>/dev/null # another recipient's key (check 2b)
start_s3serve minio "$work" || exit 1
bgpids+=("$S3SERVE_PID")
# shellcheck source=/dev/null
set -a && source "$work/minio.env" && set +a
echo "MinIO at $XFER_ENDPOINT, bucket $XFER_BUCKET; spool under $XDG_CACHE_HOME/xfer"
spooldir=$XDG_CACHE_HOME/xfer/spool

step "1. send 3 files; xfer pull --all -d pulled/, twice"
for f in in.csv small1.csv small2.csv; do
	xfer send --json --no-progress --prefix all/ "$f" -R r.txt >sent.ndjson
	echo "   sent $f ($(stat -c %s "$f") bytes) as $(event sent.ndjson sent key), $(event sent.ndjson sent bytes) bytes"
done
obj=$(s3tool head all/in.csv.zip.age | sed -n 's/^size=//p') # the SIZE object, for check 3
echo "   \$ xfer pull --all -d pulled --prefix all/ -i k.txt --no-progress"
xfer pull --all -d pulled --prefix all/ -i k.txt --no-progress >pull1.out 2>&1 && rc=0 || rc=$?
indent pull1.out
echo "   exit $rc; pulled/ holds: $(find pulled -mindepth 1 -printf '%f (mode %m) ' 2>/dev/null)"
same=0
for f in in.csv small1.csv small2.csv; do
	if cmp "$f" "pulled/$f"; then
		echo "   cmp $f pulled/$f: identical"
		same=$((same + 1))
	fi
done
ok=OK
[ "$rc" = 0 ] && [ "$same" = 3 ] && [ "$(files pulled)" = 3 ] || ok=FAIL
result "1a. pull --all: 3 CSVs, byte-identical (cmp)" "exit $rc, $same of 3 identical, $(files pulled) files in DIR" "exit 0, 3 of 3, 3 files" $ok
echo "   \$ xfer pull --all -d pulled --prefix all/ -i k.txt --no-progress   # again"
xfer pull --all -d pulled --prefix all/ -i k.txt --no-progress >pull2.out 2>&1 && rc=0 || rc=$?
indent pull2.out
echo "   exit $rc; pulled/ holds $(files pulled) files"
ok=OK
[ "$rc" = 0 ] && grep -q '^nothing new to pull' pull2.out && [ "$(files pulled)" = 3 ] || ok=FAIL
result "1b. second pull --all pulls nothing, says so" "exit $rc: \"$(head -n 1 pull2.out)\"" "exit 0, nothing new" $ok

step "2. stored objects altered in the bucket"
gencsv -size "$SMALL" -seed 4 -o t1.csv 2>/dev/null
gencsv -size "$SMALL" -seed 5 -o t2.csv 2>/dev/null
xfer send -q --no-progress --prefix tamper/ t1.csv t2.csv -R r.txt
key=tamper/t1.csv.zip.age
size=$(s3tool head "$key" | sed -n 's/^size=//p')
echo "   (a) \$ s3tool flip $key $((size / 2))"
s3tool flip "$key" $((size / 2)) | indent
echo "   \$ xfer pull --prefix tamper/ t1.csv.zip.age -d out2a -i k.txt --no-progress"
mkdir out2a
xfer pull --prefix tamper/ t1.csv.zip.age -d out2a -i k.txt --no-progress >pull.out 2>&1 && rc=0 || rc=$?
indent pull.out
echo "   exit $rc; out2a/ holds $(files out2a) files (CSV or temporary); download spool files left: $(spools)"
ok=OK
[ "$rc" = 4 ] && [ "$(files out2a)" = 0 ] || ok=FAIL
result "2a. byte flipped in the middle: pull" "exit $rc, $(files out2a) files in DIR" "exit 4, 0 files" $ok

key=tamper/t2.csv.zip.age
echo "   (b) \$ xfer send --overwrite --prefix tamper/ t2.csv -R r2.txt   # another recipient, same name"
xfer send --json --no-progress --overwrite --prefix tamper/ t2.csv -R r2.txt >sent.ndjson
echo "      replaced $(event sent.ndjson sent key): $(event sent.ndjson sent bytes) bytes, sealed to $(cut -c1-20 r2.txt)… (not $(cut -c1-20 r.txt)…)"
echo "   \$ xfer pull --prefix tamper/ t2.csv.zip.age -d out2b -i k.txt --no-progress"
mkdir out2b
xfer pull --prefix tamper/ t2.csv.zip.age -d out2b -i k.txt --no-progress >pull.out 2>&1 && rc=0 || rc=$?
indent pull.out
echo "   exit $rc; out2b/ holds $(files out2b) files (CSV or temporary); download spool files kept for a re-run: $(spools)"
ok=OK
[ "$rc" = 3 ] && [ "$(files out2b)" = 0 ] || ok=FAIL
result "2b. replaced by an upload to another key: pull" "exit $rc, $(files out2b) files in DIR" "exit 3, 0 files" $ok
echo "   control: \$ xfer pull --prefix tamper/ t2.csv.zip.age -d out2b-k2 -i k2.txt --no-progress"
xfer pull --prefix tamper/ t2.csv.zip.age -d out2b-k2 -i k2.txt --no-progress >pull.out 2>&1 && rc=0 || rc=$?
indent pull.out
if [ "$rc" = 0 ] && cmp -s t2.csv out2b-k2/t2.csv; then
	echo "   exit 0, out2b-k2/t2.csv identical to t2.csv: the replacement is a valid upload"
else
	echo "   exit $rc: the replacement does not open with its own key either"
	result "2b. control: the other key opens the replacement" "exit $rc" "exit 0, identical" FAIL
fi

step "3. xfer fetch killed with SIGKILL half way, then run again"
key=all/in.csv.zip.age
# Slow enough that half way is easy to hit: about 40 s for the whole object.
[ -n "$LINK_KBPS" ] || LINK_KBPS=$(awk -v o="$obj" 'BEGIN { r = int(o / 40 / 1000); print (r < 1000) ? 1000 : r }')
rate=$((LINK_KBPS / CONC))
start_toxi downstream "$rate"
echo "   toxiproxy $LISTEN -> MinIO, bandwidth toxic on downstream (server to client): $rate KB/s a connection × $CONC ranges = $LINK_KBPS KB/s"
# proxy_bytes: toxiproxy's downstream counters, "received sent" (bytes
# taken from MinIO, bytes delivered to xfer).
proxy_bytes() { toxi_settled downstream; }
fetch_cmd=(xfer fetch --json --prefix all/ --concurrency "$CONC" in.csv.zip.age -o fetched.age)
proxied=(env XFER_ENDPOINT="http://$LISTEN")
# progress_half_way OUT prints "BYTES TOTAL" once the --json progress in
# OUT has passed half way.
progress_half_way() {
	tail -n 3 "$1" | jq -r 'select(.event == "progress" and .total > 0 and .bytes * 2 >= .total) | "\(.bytes) \(.total)"' 2>/dev/null | tail -n 1
}
# fetch_killed NDJSON: runs fetch_cmd through the proxy and kills it with
# SIGKILL once its progress passes half way; sets killed ("BYTES TOTAL",
# empty when the run ended first) and rc1.
fetch_killed() {
	echo "   \$ XFER_ENDPOINT=http://$LISTEN ${fetch_cmd[*]} >$1   # killed half way"
	kill_when "$1" "$1.err" progress_half_way "${proxied[@]}" "${fetch_cmd[@]}"
	if [ -z "$killed" ]; then
		cat "$1.err"
		echo "   the run ended (exit $rc1) before it was half way"
		return
	fi
	local kbytes ktotal journal
	read -r kbytes ktotal <<<"$killed"
	journal=$(journal_of "$key")
	echo "   kill -9 (exit $rc1) when its progress said $kbytes of $ktotal bytes ($((kbytes * 100 / ktotal)) %)"
	echo "   left behind: $(find "$spooldir" -type f -printf '%f ')"
	echo "   journal: chunk size $(mib "$(jq .chunk_size "$journal")"), $(jq '[.done[]? | .[1] - .[0] + 1] | add // 0' "$journal") chunks done, $(jq '.partial // {} | length' "$journal") partial ($(jq '[.partial // {} | .[]] | add // 0' "$journal") bytes); fetched.age exists: $([ -e fetched.age ] && echo yes || echo no)"
}
fetch_killed fetch1.ndjson
if [ -z "$killed" ]; then
	result "3. fetch resumes after kill -9" "first run not killed" "resumes" FAIL
else
	before=$(proxy_bytes)
	echo "   \$ XFER_ENDPOINT=http://$LISTEN ${fetch_cmd[*]} --no-progress   # the same command again; proxy counters at \"$before\""
	t0=$(date +%s.%N)
	"${proxied[@]}" "${fetch_cmd[@]}" --no-progress >fetch2.ndjson 2>fetch2.err && rc2=0 || rc2=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	after=$(proxy_bytes)
	indent fetch2.err
	jq -c 'select(.event == "fetched")' fetch2.ndjson | indent
	fobj=$(event fetch2.ndjson fetched bytes) resumed=$(event fetch2.ndjson fetched resumed_bytes)
	if [ "$rc2" != 0 ] || [ -z "$fobj" ]; then
		result "3. fetch resumes after kill -9" "second run exit $rc2" "completes" FAIL
	else
		xgot=$((fobj - resumed))
		read -r b_recv b_sent <<<"$before"
		read -r a_recv a_sent <<<"$after"
		wire_in=$((a_recv - b_recv)) wire_out=$((a_sent - b_sent))
		limit=$((fobj * 6 / 10))
		pct() { awk -v a="$1" -v o="$fobj" 'BEGIN { printf "%.1f %%", a * 100 / o }'; }
		echo "   second run: exit 0 in $secs s; object $fobj bytes, resumed_bytes $resumed ($(pct "$resumed"): what the first run had stored)"
		echo "   downloaded by the second run, xfer's count (bytes - resumed_bytes): $xgot = $(pct "$xgot") of the object"
		echo "   downloaded by the second run, toxiproxy's downstream counters (counters after \"$after\"): $wire_in taken from MinIO = $(pct "$wire_in"), $wire_out delivered to xfer = $(pct "$wire_out") (HTTP included)"
		echo "   limit: 60 % of the object = $limit bytes"
		ok=OK
		[ "$xgot" -lt "$limit" ] || ok=FAIL
		result "3a. second run downloads, xfer --json" "$xgot B = $(pct "$xgot")" "< $limit B (60 %)" $ok
		wire=$((wire_in > wire_out ? wire_in : wire_out))
		ok=OK
		[ "$wire_out" -gt 0 ] && [ "$wire" -lt "$limit" ] || ok=FAIL
		result "3b. second run downloads, toxiproxy downstream" "$wire B = $(pct "$wire")" "< $limit B (60 %)" $ok
		echo "   \$ xfer fetch --prefix all/ in.csv.zip.age -o direct.age   # in one go, no proxy"
		xfer fetch --no-progress --prefix all/ in.csv.zip.age -o direct.age 2>&1 | indent
		xfer decrypt -q fetched.age -i k.txt -o fetched.csv
		ok=OK
		if cmp fetched.age direct.age; then
			echo "   cmp fetched.age direct.age: identical"
		else
			ok=FAIL
		fi
		if cmp fetched.csv in.csv; then
			echo "   xfer decrypt fetched.age; cmp with in.csv: identical"
		else
			ok=FAIL
		fi
		result "3c. resumed fetch = fetch in one go; decrypts to the CSV" "$([ $ok = OK ] && echo identical || echo differs)" "byte-identical" $ok
		rm -f direct.age fetched.csv
	fi
	rm -f fetched.age
fi

# Not a criterion (the same command through the same proxy is), but what a
# user who drops the proxy sees: the spool is named after the endpoint URL.
echo "   3d. killed again, then run again directly (XFER_ENDPOINT=$XFER_ENDPOINT, not the proxy's URL)"
fetch_killed fetch3.ndjson
if [ -n "$killed" ]; then
	echo "   \$ ${fetch_cmd[*]} --no-progress"
	"${fetch_cmd[@]}" --no-progress >fetch4.ndjson 2>fetch4.err && rc=0 || rc=$?
	indent fetch4.err
	jq -c 'select(.event == "fetched")' fetch4.ndjson | indent
	resumed=$(event fetch4.ndjson fetched resumed_bytes)
	orphans=$(find "$spooldir" -type f -printf '%f (%s bytes) ')
	echo "   exit $rc, resumed_bytes ${resumed:-?}; left in the spool directory afterwards: ${orphans:-nothing}"
	result "3d. (info) re-run directly, not through the proxy" "exit $rc, resumed ${resumed:-?} B; left in spool dir: $(find "$spooldir" -type f | wc -l) files" "not required" "INFO"
	find "$spooldir" -type f -delete
	rm -f fetched.age
fi
kill "$toxipid" 2>/dev/null || true # the proxy

step "4. shred on a versioned bucket ($VBUCKET)"
export XFER_BUCKET=$VBUCKET
gencsv -size "$SMALL" -seed 6 -o v.csv 2>/dev/null
key=shred/v.csv.zip.age
echo "   \$ xfer send --prefix shred/ v.csv; xfer send --overwrite --prefix shred/ v.csv"
xfer send -q --no-progress --prefix shred/ v.csv -R r.txt
xfer send -q --no-progress --overwrite --prefix shred/ v.csv -R r.txt
echo "   \$ s3tool versions $key"
s3tool versions "$key" >versions.txt
indent versions.txt
read -r nv nm <versions.txt
if [ "$nv" != 2 ]; then
	echo "   $nv versions after two writes: $VBUCKET does not keep versions"
	result "4. shred, versioned bucket" "bucket not versioned ($nv versions after 2 writes)" "2 versions before shred" FAIL
else
	echo "   \$ s3tool rm $key; s3tool start $key   # a delete marker and an unfinished upload too"
	s3tool rm "$key" | indent
	s3tool start "$key" | sed 's/^/upload ID /' | indent
	read -r nv nm < <(s3tool versions "$key")
	s3tool uploads "$key" >uploads.txt # (not piped into head: SIGPIPE)
	nu=$(head -n 1 uploads.txt)
	echo "   before shred: $nv versions, $nm delete markers, $nu unfinished uploads"
	echo "   \$ xfer shred --prefix shred/ v.csv.zip.age --yes"
	xfer shred --prefix shred/ v.csv.zip.age --yes >shred.out 2>&1 && rc=0 || rc=$?
	indent shred.out
	echo "   exit $rc"
	echo "   \$ s3tool versions $key; s3tool uploads $key"
	s3tool versions "$key" >versions.txt
	indent versions.txt
	s3tool uploads "$key" >uploads.txt
	indent uploads.txt
	read -r nv nm <versions.txt
	nu=$(head -n 1 uploads.txt)
	echo "   \$ xfer list --all-versions --prefix shred/; xfer list --incomplete --prefix shred/"
	{ xfer list --all-versions --prefix shred/ && xfer list --incomplete --prefix shred/; } 2>&1 | indent
	ok=OK
	[ "$rc" = 0 ] && [ "$nv" = 0 ] && [ "$nm" = 0 ] && [ "$nu" = 0 ] || ok=FAIL
	result "4. shred --yes: versions, markers, uploads left" "exit $rc; $nv versions, $nm markers, $nu uploads" "exit 0; 0, 0, 0" $ok
fi
# shellcheck source=/dev/null # back to the plain bucket
set -a && source "$work/minio.env" && set +a

step "5. peak RSS of xfer pull of the $SIZE file, default settings"
echo "   \$ /usr/bin/time -f '%e %M' xfer pull --prefix all/ in.csv.zip.age -d rss -i k.txt --no-progress"
/usr/bin/time -f '%e %M' -o t.txt xfer pull --prefix all/ in.csv.zip.age -d rss -i k.txt --no-progress >pull.out 2>&1 && rc=0 || rc=$?
indent pull.out
read -r secs kib <t.txt
identical=differs
cmp -s in.csv rss/in.csv && identical=identical
echo "   exit $rc in $secs s ($(awk -v n="$(stat -c %s in.csv)" -v s="$secs" 'BEGIN { printf "%.1f", n / s / 1e6 }') MB/s of CSV), peak RSS $(awk -v k="$kib" 'BEGIN { printf "%.1f MiB", k / 1024 }'); rss/in.csv $identical to in.csv"
ok=OK
[ "$rc" = 0 ] && [ "$identical" = identical ] && [ "$kib" -lt $((200 * 1024)) ] || ok=FAIL
result "5. peak RSS, pull $SIZE" "$(awk -v k="$kib" 'BEGIN { printf "%.1f MiB", k / 1024 }') (exit $rc, $identical)" "< 200 MiB" $ok

print_summary
