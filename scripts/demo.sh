#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian machine: builds xfer, starts a
# local S3 server on 127.0.0.1 (MinIO, the same pinned build the tests use)
# with an exchange bucket, and walks through what the client and the mailing
# house do every day:
#
#   keygen → send (client) → list → pull (mailing house) → shred
#
# plus opening a sealed file without xfer (age, then 7-Zip) and a damaged
# file being refused. Each step is printed before it runs.
#
# Everything lives in a temporary directory, removed at the end (KEEP=1
# keeps it). The server is stopped when the demo ends, however it ends;
# KEEP_SERVER=1 leaves it running and prints how to reach it. The first run
# downloads and compiles xfer's modules (a minute or two) and builds MinIO
# from the Go module proxy (about 5 minutes on two cores, with a line each
# minute); later runs use the cached builds and start in seconds. It builds
# nothing it does not use. Needs Go 1.26 and root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
repo=$PWD

work=$(mktemp -d)
server_pid=
finish() {
	if [ -n "$server_pid" ] && [ -z "${KEEP_SERVER:-}" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ -z "${KEEP:-}" ] && [ -z "${KEEP_SERVER:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap finish EXIT

step "building xfer, and the demo's data generator and server launcher (first run only: a minute or two)"
mkdir -p "$work/bin"
go build -trimpath -o "$work/bin/" ./cmd/xfer ./internal/cmd/gencsv ./internal/cmd/s3serve
PATH=$work/bin:$PATH
xfer version

step "building MinIO for the demo (first run only, about 5 minutes; later runs use the cached build)"
build_servers "$work/buildservers.log" minio

step "installing the stock tools xfer interoperates with (7-Zip, bsdtar, age)"
install_debian_tools

cd "$work"
export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache

step "starting MinIO on 127.0.0.1 with an exchange bucket"
if [ -n "${KEEP_SERVER:-}" ]; then
	# s3serve stops its server when the shell that started it exits;
	# setsid gives it a parent that stays.
	setsid bash -c 's3serve -server minio -dir "$1/minio" -env "$1/minio.env" 2>>"$1/minio.log" & wait' _ "$work" &
	for _ in $(seq 600); do [ -f minio.env ] && break; sleep 0.2; done
	[ -f minio.env ] || { cat minio.log; exit 1; }
else
	start_s3serve minio "$work"
	server_pid=$S3SERVE_PID
fi
# XFER_ENDPOINT, XFER_BUCKET and the AWS_* credentials, as an operator
# would put them in xfer's config file and the environment.
set -a && source minio.env && set +a
echo "endpoint $XFER_ENDPOINT, bucket $XFER_BUCKET"

step "the mailing house creates its key pair; the public recipient goes to the client"
xfer keygen -o mailhouse.key | tee recipient.txt

step "the client's address files (fictitious people, generated)"
gencsv -size 20MiB -o addresses.csv
gencsv -size 2MiB -o reorders.csv
head -c 300 addresses.csv
echo "…"
ls -l addresses.csv reorders.csv

step "the client sends them (zip password from a 0600 file, as cron would)"
umask 077
echo "Demo-Zip-Passw0rd" >zip.pw
xfer send addresses.csv reorders.csv -R recipient.txt --zip-password-file zip.pw --expires 7d

step "anyone with access to the bucket sees sealed files only"
xfer list

step "the mailing house pulls everything new: fetch, verify, decrypt, unzip"
xfer pull --all -d incoming -i mailhouse.key --zip-password-file zip.pw
ls -l incoming
cmp incoming/addresses.csv addresses.csv && cmp incoming/reorders.csv reorders.csv &&
	echo "both CSVs are identical to the client's originals"

step "the nightly cron run finds nothing new"
xfer pull --all -d incoming -i mailhouse.key --zip-password-file zip.pw

step "the sender sees who pulled what, and when"
xfer list

step "without xfer: the stored object opens with stock age, then 7-Zip"
xfer fetch reorders.csv.zip.age -o reorders.age
age -d -i mailhouse.key -o reorders.zip reorders.age
7zz x -p"$(cat zip.pw)" -ostock reorders.zip >/dev/null
cmp stock/reorders.csv reorders.csv && echo "identical to the original"

step "a damaged sealed file is refused (exit 4) and leaves nothing behind"
cp reorders.age damaged.age
printf '\x00' | dd of=damaged.age bs=1 seek=5000 conv=notrunc status=none
set +e
xfer decrypt damaged.age -i mailhouse.key --zip-password-file zip.pw -o damaged.csv
code=$?
set -e
echo "exit code $code"
[ "$code" = 4 ] && [ ! -e damaged.csv ] && echo "no output file"

step "done with them: shred every version, every unfinished upload, the local spool"
xfer shred addresses.csv.zip.age reorders.csv.zip.age --yes
xfer list --all-versions
echo "(an empty listing: nothing of either file is left in the bucket)"

step "demo finished"
if [ -n "${KEEP_SERVER:-}" ]; then
	echo "MinIO is still running; to use it:"
	echo "  set -a; source $work/minio.env; set +a; export XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache"
	echo "stop it with: pkill -f 's3serve -server minio -dir $work'"
fi
cd "$repo"
