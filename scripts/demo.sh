#!/usr/bin/env bash
# The main job on local defaults, on a fresh Debian machine: builds xfer,
# installs the stock tools it interoperates with, and walks through sealing an
# address file and opening it again, with xfer and with age + 7-Zip.
# Everything happens in a temporary directory, which is removed at the end
# (set KEEP=1 to keep it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "building xfer"
mkdir -p .cache/bin
go build -trimpath -o .cache/bin/xfer ./cmd/xfer
XFER=$PWD/.cache/bin/xfer
"$XFER" version

step "installing the stock tools (7-Zip, bsdtar, age)"
install_debian_tools

work=$(mktemp -d)
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi
cd "$work"
export XDG_CONFIG_HOME=$work/config

step "the mailing house creates its key; the recipient goes to the client"
"$XFER" keygen -o mailhouse.key | tee recipient.txt

step "a sample address file (fictitious people)"
go run "$OLDPWD/internal/cmd/gencsv" -size 20MiB -o addresses.csv
head -c 400 addresses.csv; echo "…"

step "the client seals it (zip password from a 0600 file, as cron would)"
umask 077
echo "Demo-Zip-Passw0rd" > zip.pw
"$XFER" encrypt addresses.csv -R recipient.txt --zip-password-file zip.pw
ls -l addresses.csv.zip.age

step "the mailing house opens it with xfer"
mkdir incoming
"$XFER" decrypt addresses.csv.zip.age -i mailhouse.key --zip-password-file zip.pw -o incoming/addresses.csv
cmp incoming/addresses.csv addresses.csv && echo "identical to the original"

step "… or without xfer: age, then 7-Zip"
age -d -i mailhouse.key -o inner.zip addresses.csv.zip.age
7zz x -p"$(cat zip.pw)" -ostock inner.zip >/dev/null
cmp stock/addresses.csv addresses.csv && echo "identical to the original"

step "a damaged file is refused (exit 4) and leaves nothing behind"
cp addresses.csv.zip.age damaged.zip.age
printf '\x00' | dd of=damaged.zip.age bs=1 seek=5000 conv=notrunc status=none
set +e
"$XFER" decrypt damaged.zip.age -i mailhouse.key --zip-password-file zip.pw -o damaged.csv
echo "exit code $?"
set -e
test ! -e damaged.csv && echo "no output file"

step "demo finished"
