#!/usr/bin/env bash
# Acceptance run for the address-data controls (issue 5): suppression
# screening, schema and minimisation, retention (sweep), the audit trail and
# bucket set-up, against MinIO on 127.0.0.1 at the version pinned in
# internal/testkit/s3test, started with a static KMS key (MINIO_KMS_SECRET_KEY in
# s3serve's environment, which MinIO inherits) so that encryption at rest can
# be set.
#
#   1. screening: a generated address CSV of exactly ROWS records (default
#      1,000,000: gencsv -size GENSIZE, cut to ROWS records by
#      scripts/screen-oracle.py, counted by Python's csv module, since quoted
#      fields hold line breaks) is sent with `--suppress list.csv` and a
#      config `[suppress] key = ["initial:first_name","last_name","postcode"]`.
#      The list has ENTRIES entries (default 100,000; columns first_name,
#      last_name, postcode): 90 % from distinct random rows, most of them
#      altered in case, spacing, punctuation or accents only (surname upper
#      case, postcode without its space or with extra spaces, "J." for the
#      first name, apostrophes and hyphens removed, umlauts spelt in ASCII
#      as Mueller for Müller, ...), 10 % matching no row. The expected rows
#      are computed by scripts/screen-oracle.py alone (NFKD, combining marks
#      dropped, ø æ ł ... spelt out, casefold, letters and digits kept; key
#      = first letter of first_name + last_name + postcode; rows meet
#      entries once aa ae oe ue in last_name and postcode are read as one
#      letter, the spelling rule of docs/screening.md), never by xfer.
#      Then `xfer pull`, and (1a) the pulled CSV's records equal the
#      expected kept records, parsed, in order, and their count; (1b) the
#      sent event's suppressed_rows = input rows - expected kept, rows_in =
#      input rows, rows = kept and suppressed_by_variant = the oracle's count
#      of suppressed rows whose own key no entry has; the pulled event's
#      rows = kept. When xfer
#      and the oracle disagree, up to 10 disagreeing keys are printed here
#      (generated data), never in the table. (1c) The list hashed by `xfer
#      suppress hash` gives a byte-identical pulled CSV and the same counts.
#      (1d) time: `xfer send` of the same CSV without and with `--suppress
#      list.csv` (other --as names; without: no config at all), ROUNDS rounds
#      (default 3), the order alternating, wall-clock medians; target:
#      screening adds < 25 % to send time. The load average is printed
#      first (quiet_machine waits up to LOAD_WAIT s, default 300, for it to
#      fall to LOAD_MAX, default 1.5), and the CPU-time (user+sys) ratio is
#      reported for information: on a shared machine it is the steadier.
#   2. schema: a CSV with an extra date_of_birth column and a config
#      `[schema] allowed = [...]` listing the other columns: `xfer send` must
#      exit 6 naming the column; with `--drop-columns date_of_birth` it is
#      sent, and the CSV `xfer pull` writes has the other columns only.
#   3. sweep on the versioned bucket (VBUCKET): two files sent with
#      `--expires 1s` (one of them twice, with --overwrite: two versions),
#      two with `--expires 30d`; after 2 s `xfer sweep --json` (min_age = "0":
#      the files are seconds old); then `s3tool
#      versions` of each name and `xfer list --all-versions`: no version and
#      no delete marker of the expired names is left, the unexpired ones
#      are there.
#   4. audit: `xfer audit verify` of the log the runs above wrote must say
#      OK; then, each on a copy of the log and its .head, (a) one field of a
#      middle line edited, (b) a middle line deleted, (c) the last line
#      deleted, (d) two adjacent middle lines swapped, (e) a field edited and
#      the line's own hash recomputed: `xfer audit verify --log COPY` must
#      exit 4 and name the expected first bad line (the edited, removed or
#      moved line; for (c) the missing one; for (e) still the edited line,
#      which the next line's prev no longer matches).
#   5. bucket init: `xfer bucket init --create --json` on a new bucket, then
#      versioning, default encryption, lifecycle and the public access block
#      are read back with `s3tool config` (raw S3 requests signed by
#      s3test's own SigV4 code, not through xfer's store): each setting xfer
#      calls applied must read back as set; what MinIO refused must be
#      reported as refused with its S3 code, named on stderr, and exit 1.
#      (5b) the same with `--sse aws:kms --sse-kms-key-id` the server's key.
#      (5c, information) `xfer bucket init --dry-run` afterwards.
#
# It installs what it needs: time and jq (apt-get), python3 if missing, and
# the pinned servers (go run ./internal/testkit/s3test/cmd/buildservers, cached;
# MinIO takes minutes the first time). MinIO runs from internal/cmd/s3serve
# on loopback only and is stopped when the script exits, however it exits.
# Everything else lives in a temporary directory (WORK=DIR to choose it,
# KEEP=1 to keep it), the audit log included (XDG_STATE_HOME).
#
# Prints what each check ran and saw, then a summary table; exits non-zero
# when a check fails. Needs Go 1.26, root (or sudo) for apt-get, and about
# 2 GB of free disk. Takes about 8 minutes on 2 cores (load average 20).
#
#   ./scripts/acceptance-controls.sh
#   ROWS=100000 ENTRIES=10000 GENSIZE=16MiB ROUNDS=1 ./scripts/acceptance-controls.sh   # a quicker look
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ROWS=${ROWS:-1000000}
ENTRIES=${ENTRIES:-100000}
GENSIZE=${GENSIZE:-150MiB} # generated, then cut to ROWS records
ROUNDS=${ROUNDS:-3}
# VBUCKET is s3test's versioned bucket (versionedBucketName in
# internal/testkit/s3test/server.go); s3serve's env file names only the plain one.
VBUCKET=${VBUCKET:-xfer-test-versioned}
KMS_KEY=xfer-acceptance-key
repo=$PWD
oracle=$repo/scripts/screen-oracle.py
acceptance_begin
# first_bad_line FILE: N of the first "line N:" in FILE.
first_bad_line() { grep -o "line [0-9]*:" "$1" | sed -n "1s/[^0-9]//gp" || true; }
# csv_header FILE: the header of a CSV, as Python's csv module reads it.
csv_header() { python3 -c 'import csv, sys; print(",".join(next(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))))' "$1"; }

step "installing tools"
install_missing /usr/bin/time:time jq:jq python3:python3 cmp:diffutils
echo "jq $(jq --version), $(python3 --version), GNU time at /usr/bin/time"
build_servers "$work/buildservers.log"

bin=$work/bin
go build -trimpath -o "$bin/" ./cmd/xfer ./internal/cmd/gencsv ./internal/cmd/s3serve ./internal/cmd/s3tool
PATH=$bin:$PATH
echo "xfer $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '(no git checkout)'), Go $(go env GOVERSION), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$work"

step "keys; MinIO with a KMS key"
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache XDG_STATE_HOME=$work/state XFER_ZIP_PASSWORD=Acceptance-Passw0rd
xfer keygen -o k.txt >r.txt 2>/dev/null
MINIO_KMS_SECRET_KEY="$KMS_KEY:$(head -c 32 /dev/urandom | base64)"
export MINIO_KMS_SECRET_KEY
start_s3serve minio "$work" || exit 1
unset MINIO_KMS_SECRET_KEY
bgpids+=("$S3SERVE_PID")
# shellcheck source=/dev/null
set -a && source "$work/minio.env" && set +a
echo "MinIO at $XFER_ENDPOINT (KMS key $KMS_KEY), bucket $XFER_BUCKET; audit log under $XDG_STATE_HOME/xfer"
: >empty.toml
cat >suppress.toml <<'EOF'
[suppress]
key = ["initial:first_name", "last_name", "postcode"]
EOF

step "1. screening: $ROWS rows against $ENTRIES suppression entries"
gencsv -size "$GENSIZE" -o gen.csv
rows=$(python3 "$oracle" trim gen.csv "$ROWS" in.csv)
rm gen.csv
echo "   in.csv: $rows records (Python csv module), $(stat -c %s in.csv) bytes, $(wc -l <in.csv) lines (quoted fields hold line breaks)"
echo "   list.csv, $ENTRIES entries (first_name,last_name,postcode), by kind:"
python3 "$oracle" makelist in.csv "$ENTRIES" 1 list.csv | indent
echo "   \$ xfer send --config suppress.toml --json --suppress list.csv --as screened.csv in.csv"
xfer send --config suppress.toml --json --no-progress --suppress list.csv --as screened.csv in.csv -R r.txt >sent1.ndjson 2>sent1.err && rc=0 || rc=$?
indent sent1.err
jq -c 'select(.event == "sent")' sent1.ndjson | indent
echo "   \$ xfer pull --json -d pulled1 screened.csv.zip.age"
xfer pull --json --no-progress -d pulled1 -i k.txt screened.csv.zip.age >pulled1.ndjson 2>pulled1.err && prc=0 || prc=$?
indent pulled1.err
jq -c 'select(.event == "pulled")' pulled1.ndjson | indent
echo "   \$ screen-oracle.py check in.csv list.csv pulled1/screened.csv"
python3 "$oracle" check in.csv list.csv pulled1/screened.csv >oracle.json 2>oracle.err
jq -c . oracle.json | indent
if [ -s oracle.err ]; then
	echo "   xfer and the oracle disagree; examples (generated data):"
	indent oracle.err
fi
o() { jq -r ".$1" oracle.json; }
kept=$(o expected_kept)
ok=OK
[ "$rc" = 0 ] && [ "$prc" = 0 ] && [ "$(o identical)" = true ] && [ "$(o pulled_records)" = "$kept" ] || ok=FAIL
result "1a. pulled CSV = rows the oracle keeps (parsed, in order)" \
	"$(o pulled_records) records pulled, $kept expected; $(o suppressed_by_oracle_kept_by_xfer) wrongly kept, $(o kept_by_oracle_missing_from_pulled) wrongly left out, $(o pulled_altered) altered" \
	"identical, $kept records" $ok
s_rows=$(event sent1.ndjson sent suppressed_rows) s_in=$(event sent1.ndjson sent rows_in) s_kept=$(event sent1.ndjson sent rows)
s_var=$(event sent1.ndjson sent suppressed_by_variant) o_var=$(o expected_suppressed_by_variant)
p_rows=$(event pulled1.ndjson pulled rows)
ok=OK
[ "$s_in" = "$rows" ] && [ "$s_rows" = $((rows - kept)) ] && [ "$s_kept" = "$kept" ] && [ "$s_var" = "$o_var" ] && [ "$p_rows" = "$kept" ] || ok=FAIL
result "1b. counts: sent rows_in / suppressed_rows / suppressed_by_variant / rows; pulled rows" "$s_in / $s_rows / $s_var / $s_kept; $p_rows" "$rows / $((rows - kept)) / $o_var / $kept; $kept" $ok

echo "   \$ xfer suppress hash --config suppress.toml list.csv -o list.hashed"
xfer suppress hash --config suppress.toml list.csv -o list.hashed 2>&1 | indent
echo "      list.hashed: $(wc -l <list.hashed) lines; first: $(head -n 1 list.hashed | sed 's/salt=[0-9a-f]*/salt=…/')"
echo "   \$ xfer send --config suppress.toml --json --suppress list.hashed --as hashed.csv in.csv; xfer pull -d pulled2 hashed.csv.zip.age"
xfer send --config suppress.toml --json --no-progress --suppress list.hashed --as hashed.csv in.csv -R r.txt >sent2.ndjson 2>sent2.err && rc=0 || rc=$?
indent sent2.err
jq -c 'select(.event == "sent") | {rows_in, rows, suppressed, suppressed_rows}' sent2.ndjson | indent
xfer pull --json --no-progress -d pulled2 -i k.txt hashed.csv.zip.age >pulled2.ndjson 2>pulled2.err && prc=0 || prc=$?
indent pulled2.err
same=differs
cmp -s pulled1/screened.csv pulled2/hashed.csv && same=identical
h_rows=$(event sent2.ndjson sent suppressed_rows)
echo "   exit $rc, $prc; pulled2/hashed.csv is $same to pulled1/screened.csv (cmp)"
ok=OK
[ "$rc" = 0 ] && [ "$prc" = 0 ] && [ "$same" = identical ] && [ "$h_rows" = "$s_rows" ] || ok=FAIL
result "1c. hashed list: same output, same counts" "$same (cmp); suppressed_rows $h_rows" "identical; $s_rows" $ok
rm -rf pulled2

echo
echo "   timing: xfer send of in.csv ($(mib "$(stat -c %s in.csv)")) without and with --suppress list.csv, $ROUNDS rounds, order alternating"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
quiet_machine
# timed KIND ROUND: one send; appends "wall cpu" to times-KIND.
timed() {
	local args=(--config empty.toml)
	[ "$1" = plain ] || args=(--config suppress.toml --suppress list.csv)
	/usr/bin/time -f '%e %U %S' -o t.txt xfer send -q --no-progress "${args[@]}" --as "t-$1-$2.csv" in.csv -R r.txt
	read -r wall usr sys <t.txt
	cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
	echo "$wall $cpu" >>"times-$1"
	printf '      round %d %-8s wall %6.2f s  cpu %6.2f s  (load %s)\n' "$2" "$1" "$wall" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)"
}
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then timed plain "$r" && timed suppress "$r"; else timed suppress "$r" && timed plain "$r"; fi
done
# shellcheck disable=SC2046 # one number a word
{
	pw=$(median $(cut -d' ' -f1 times-plain)) sw=$(median $(cut -d' ' -f1 times-suppress))
	pc=$(median $(cut -d' ' -f2 times-plain)) sc=$(median $(cut -d' ' -f2 times-suppress))
}
added=$(awk -v a="$sw" -v b="$pw" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }')
added_cpu=$(awk -v a="$sc" -v b="$pc" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }')
echo "   medians: wall $pw s without, $sw s with: screening adds $added %; CPU $pc s without, $sc s with: $added_cpu %"
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
ok=OK
awk -v x="$added" 'BEGIN { exit !(x < 25) }' || ok=FAIL
result "1d. send time added by screening (wall, median of $ROUNDS)" "$added % ($sw s vs $pw s)" "< 25 %" $ok
result "1e. (info) CPU time added by screening (user+sys, median)" "$added_cpu % ($sc s vs $pc s)" "not required" INFO

step "2. schema: an extra date_of_birth column"
gencsv -size 1MiB -seed 2 -o base.csv 2>/dev/null
python3 - <<'EOF'
import csv
r = csv.reader(open("base.csv", newline="", encoding="utf-8"))
with open("dob.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(next(r) + ["date_of_birth"])
    for i, rec in enumerate(r):
        w.writerow(rec + ["19%02d-%02d-%02d" % (40 + i % 60, 1 + i % 12, 1 + i % 28)])
EOF
cols=$(head -n 1 base.csv | tr -d '\r' | sed 's/\([^,]*\)/"\1"/g; s/,/, /g')
printf '[schema]\nallowed = [%s]\n' "$cols" >schema.toml
echo "   dob.csv header: $(csv_header dob.csv)"
echo "   schema.toml: $(tr '\n' ' ' <schema.toml)"
echo "   \$ xfer send --config schema.toml dob.csv"
xfer send --config schema.toml --no-progress dob.csv -R r.txt >schema1.out 2>&1 && rc=0 || rc=$?
indent schema1.out
echo "   exit $rc"
ok=OK
[ "$rc" = 6 ] && grep -q 'date_of_birth' schema1.out || ok=FAIL
result "2a. extra column date_of_birth: send refused" "exit $rc; $(grep -o 'column "[^"]*" is not allowed' schema1.out || echo 'column not named')" "exit 6, names the column" $ok
echo "   \$ xfer send --config schema.toml --json --drop-columns date_of_birth dob.csv; xfer pull -d pulled-dob dob.csv.zip.age"
xfer send --config schema.toml --json --no-progress --drop-columns date_of_birth dob.csv -R r.txt >schema2.ndjson 2>schema2.err && rc=0 || rc=$?
indent schema2.err
jq -c 'select(.event == "sent") | {rows_in, rows, dropped_columns}' schema2.ndjson | indent
xfer pull --json --no-progress -d pulled-dob -i k.txt dob.csv.zip.age >schema3.ndjson 2>schema3.err && prc=0 || prc=$?
indent schema3.err
jq -c 'select(.event == "pulled") | {rows, dropped_columns, manifest}' schema3.ndjson | indent
got=$(csv_header pulled-dob/dob.csv 2>/dev/null || echo '(no file)')
echo "   pulled header: $got"
# The pulled rows must be the original rows without their last field.
same=differs
python3 - <<'EOF' && same=identical
import csv, sys
a = [rec[:-1] for rec in csv.reader(open("dob.csv", newline="", encoding="utf-8"))]
b = list(csv.reader(open("pulled-dob/dob.csv", newline="", encoding="utf-8")))
sys.exit(a != b)
EOF
echo "   pulled records = dob.csv's records without date_of_birth: $same"
ok=OK
[ "$rc" = 0 ] && [ "$prc" = 0 ] && [ "$got" = "$(csv_header base.csv)" ] && [ "$same" = identical ] || ok=FAIL
result "2b. --drop-columns date_of_birth: sent; pulled header" "exit $rc; $(echo "$got" | grep -q date_of_birth && echo 'has date_of_birth' || echo 'no date_of_birth'), records $same" "exit 0; no date_of_birth, rows kept" $ok

step "3. sweep on the versioned bucket ($VBUCKET)"
export XFER_BUCKET=$VBUCKET
for n in old1 old2 new1 new2; do gencsv -size 64KiB -seed 3 -o "$n.csv" 2>/dev/null; done
echo "   \$ xfer send --prefix sweep/ --expires 1s old1.csv old2.csv; xfer send --prefix sweep/ --expires 1s --overwrite old2.csv"
xfer send -q --no-progress --prefix sweep/ --expires 1s old1.csv old2.csv -R r.txt
xfer send -q --no-progress --prefix sweep/ --expires 1s --overwrite old2.csv -R r.txt
echo "   \$ xfer send --prefix sweep/ --expires 30d new1.csv new2.csv"
xfer send -q --no-progress --prefix sweep/ --expires 30d new1.csv new2.csv -R r.txt
# versions_of: "NAME VERSIONS MARKERS" for each of the four names.
versions_of() {
	local n
	for n in old1 old2 new1 new2; do echo "$n $(s3tool versions "sweep/$n.csv.zip.age" | sed -n 1p)"; done
}
versions_of >before.txt
echo "   before (name, versions, delete markers): $(tr '\n' ';' <before.txt)"
xfer list --prefix sweep/ 2>&1 | indent
sleep 2
# Sweep spares files younger than min_age (default 1d, issue 15): these
# are seconds old, so the minimum is switched off for this run.
printf 'min_age = "0"\n' >sweep.toml
echo "   \$ XFER_CONFIG=sweep.toml xfer sweep --json   # the whole bucket; sweep.toml: min_age = \"0\""
XFER_CONFIG=$PWD/sweep.toml xfer sweep --json --no-progress >sweep.ndjson 2>sweep.err && rc=0 || rc=$?
indent sweep.err
jq -c 'select(.event == "shredded" or .event == "swept") | del(.local_files, .uploads)' sweep.ndjson | indent
versions_of >after.txt
echo "   after: $(tr '\n' ';' <after.txt)"
echo "   \$ xfer list --all-versions --json"
xfer list --all-versions --json --no-progress >list.ndjson
jq -r 'select(.event == "object_version") | "\(.key) \(if .delete_marker then "marker" else "version" end) latest=\(.latest)"' list.ndjson | indent
want="old1 0 0;old2 0 0;new1 1 0;new2 1 0;"
listed=$(jq -r 'select(.event == "object_version") | .key' list.ndjson | sort | tr '\n' ' ')
ok=OK
[ "$rc" = 0 ] && [ "$(tr '\n' ';' <before.txt)" = "old1 1 0;old2 2 0;new1 1 0;new2 1 0;" ] &&
	[ "$(tr '\n' ';' <after.txt)" = "$want" ] && [ "$listed" = "sweep/new1.csv.zip.age sweep/new2.csv.zip.age " ] || ok=FAIL
result "3. sweep: versions, markers left (old1 old2 new1 new2)" "exit $rc; $(tr '\n' ';' <after.txt | sed 's/;$//; s/;/; /g')" "exit 0; old1 0 0; old2 0 0; new1 1 0; new2 1 0" $ok
# shellcheck source=/dev/null # back to the plain bucket
set -a && source "$work/minio.env" && set +a

step "4. audit log"
log=$XDG_STATE_HOME/xfer/audit.jsonl
n=$(wc -l <"$log")
echo "   $log: $n lines; actions: $(jq -r .action "$log" | sort | uniq -c | awk '{ printf "%s %s, ", $2, $1 }' | sed 's/, $//')"
echo "   \$ xfer audit verify"
xfer audit verify >verify.out 2>&1 && rc=0 || rc=$?
indent verify.out
ok=OK
[ "$rc" = 0 ] && grep -q "OK: $n events" verify.out || ok=FAIL
result "4. audit verify of the log the runs wrote" "exit $rc: $(head -n 1 verify.out)" "exit 0, OK: $n events" $ok
mid=$((n / 2))
# tampered NAME HOW WANT: a copy of the log and head in NAME/, changed by
# the Python statement HOW (on L, the list of lines, and i, the middle line's
# index), must fail verify with exit 4 naming line WANT.
tampered() {
	mkdir -p "$1"
	cp "$log" "$log.head" "$1/"
	python3 - "$1/audit.jsonl" "$mid" <<EOF
import hashlib, sys
p, i = sys.argv[1], int(sys.argv[2]) - 1
L = open(p, "rb").read().split(b"\n")[:-1]
$2
open(p, "wb").write(b"".join(l + b"\n" for l in L))
EOF
	xfer audit verify --log "$1/audit.jsonl" >"$1.out" 2>&1 && rc=0 || rc=$?
	got=$(first_bad_line "$1.out")
	echo "   $1: exit $rc: $(grep 'error:' "$1.out" | sed "s|$work/||")"
	ok=OK
	[ "$rc" = 4 ] && [ "$got" = "$3" ] || ok=FAIL
	result "4$4. $5" "exit $rc, line ${got:-?}" "exit 4, line $3" $ok
}
# One field of line mid: the user, as someone covering their tracks would.
edit='L[i] = L[i].replace(b"\"user\":\"", b"\"user\":\"x", 1)'
tampered edited "$edit" "$mid" a "a field of line $mid of $n edited"
tampered deleted 'del L[i]' "$mid" b "line $mid of $n deleted"
tampered cut 'del L[-1]' "$n" c "last line ($n) deleted"
tampered swapped 'L[i], L[i + 1] = L[i + 1], L[i]' "$mid" d "lines $mid and $((mid + 1)) swapped"
rehash="$edit
j = L[i].rindex(b',\"hash\":\"')
L[i] = L[i][:j] + b',\"hash\":\"' + hashlib.sha256(L[i][:j]).hexdigest().encode() + b'\"}'"
tampered rehashed "$rehash" "$mid" e "line $mid edited, its own hash recomputed"

step "5. xfer bucket init against MinIO (KMS key $KMS_KEY)"
# readback BUCKET: what s3tool config reads of each setting, one line each.
readback() {
	local sub
	for sub in versioning encryption lifecycle publicAccessBlock; do
		s3tool config "$1" "$sub" >"rb-$1-$sub.txt"
		printf '%s: %s\n' "$sub" "$(tr -d '\n' <"rb-$1-$sub.txt" | sed 's/<?xml[^>]*>//; s/ xmlns="[^"]*"//g; s/<RequestId>.*//')"
	done
}
# status FILE SETTING: the status xfer reported for SETTING.
status() { jq -r --arg s "$2" 'select(.event == "setting" and .setting == $s) | .status + (if .code != "" then " (" + .code + ")" else "" end)' "$1"; }
# init_check NAME ROW SSE ARGS...: bucket init --create on a new bucket NAME,
# then the read-back; SSE is the SSEAlgorithm the encryption must read.
init_check() {
	local b=$1 row=$2 sse=$3 f
	shift 3
	f=init-$b
	echo "   before: $(s3tool config "$b" versioning | sed -n 1p) (no bucket $b yet)"
	echo "   \$ xfer bucket init --bucket $b --create --json $*"
	xfer bucket init --bucket "$b" --create --json --no-progress "$@" >"$f.ndjson" 2>"$f.err" && rc=0 || rc=$?
	jq -r 'select(.event == "setting") | "\(.setting): \(.status) \(if .code != "" then .code else "" end) \(.got)"' "$f.ndjson" | indent
	jq -c 'select(.event == "bucket_init")' "$f.ndjson" | indent
	indent "$f.err"
	echo "   exit $rc; read back with s3tool config:"
	readback "$b" | tee "rb-$b.txt" | indent
	local v e l1 l2 p
	v=$(status "$f.ndjson" versioning) e=$(status "$f.ndjson" encryption)
	l1=$(status "$f.ndjson" lifecycle-noncurrent-versions) l2=$(status "$f.ndjson" lifecycle-abort-uploads)
	p=$(status "$f.ndjson" public-access-block)
	local ok=OK rv=no re=no rl=no ra=no
	grep -q '<Status>Enabled</Status>' "rb-$b-versioning.txt" && rv=yes
	grep -q "<SSEAlgorithm>$sse</SSEAlgorithm>" "rb-$b-encryption.txt" && re=yes
	grep -q '<ID>xfer-expire-noncurrent-versions</ID>.*<NoncurrentDays>30</NoncurrentDays>' "rb-$b-lifecycle.txt" && rl=yes
	grep -q '<ID>xfer-abort-incomplete-uploads</ID>' "rb-$b-lifecycle.txt" && ra=yes
	if [ "$sse" = aws:kms ]; then grep -q "<KMSMasterKeyID>[^<]*$KMS_KEY</KMSMasterKeyID>" "rb-$b-encryption.txt" || re=no; fi
	# Applied must read back; refused must be reported, named and not read
	# back; nothing may be left out of the report.
	[ "$v" = applied ] && [ "$rv" = yes ] || ok=FAIL
	[ "$e" = applied ] && [ "$re" = yes ] || ok=FAIL
	[ "$l1" = applied ] && [ "$rl" = yes ] || ok=FAIL
	case $l2 in
	applied) [ "$ra" = yes ] || ok=FAIL ;;
	refused*) [ "$ra" = no ] && grep -q 'lifecycle-abort-uploads' "$f.err" || ok=FAIL ;;
	*) ok=FAIL ;;
	esac
	case $p in
	applied) grep -q '<BlockPublicAcls>true' "rb-$b-publicAccessBlock.txt" || ok=FAIL ;;
	refused*) grep -q 'public-access-block' "$f.err" || ok=FAIL ;;
	*) ok=FAIL ;;
	esac
	if grep -q refused "$f.ndjson"; then [ "$rc" = 1 ] || ok=FAIL; fi
	result "5$row. bucket init, encryption $sse: reported / read back" \
		"exit $rc; versioning $v/$rv, encryption $e/$re, noncurrent-versions rule $l1/$rl, abort-uploads rule $l2/$ra, public-access-block $p" \
		"applied ones read back; refused ones named, exit 1" $ok
}
init_check xfer-acceptance-init a AES256
init_check xfer-acceptance-kms b aws:kms --sse aws:kms --sse-kms-key-id "$KMS_KEY"
echo "   \$ xfer bucket init --bucket xfer-acceptance-init --dry-run --json"
xfer bucket init --bucket xfer-acceptance-init --dry-run --json --no-progress >dry.ndjson 2>dry.err && rc=0 || rc=$?
jq -r 'select(.event == "setting") | "\(.setting): \(.status)"' dry.ndjson | indent
indent dry.err
echo "   exit $rc"
result "5c. (info) bucket init --dry-run afterwards" "exit $rc; $(jq -r 'select(.event == "setting") | .status' dry.ndjson | sort | uniq -c | awk '{ printf "%s %s, ", $1, $2 }' | sed 's/, $//')" "not required" INFO

print_summary
