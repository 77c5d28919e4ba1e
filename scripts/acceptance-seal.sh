#!/usr/bin/env bash
# Acceptance run for sealing: a realistic address CSV of SIZE (default 1GiB)
# through `xfer encrypt` and `xfer decrypt`, with wall time and peak RSS from
# /usr/bin/time, then opened with the stock tools (age + 7zz, age + bsdtar).
# Prints one line per check; exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
SIZE=${SIZE:-1GiB}
work=${WORK:-$(mktemp -d)}
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

install_debian_tools >/dev/null
command -v /usr/bin/time >/dev/null || as_root apt-get install -y -qq time
go build -trimpath -o "$work/xfer" ./cmd/xfer
go build -o "$work/gencsv" ./internal/cmd/gencsv
cd "$work"
./gencsv -size "$SIZE" -o in.csv
export XDG_CONFIG_HOME=$work/config XFER_ZIP_PASSWORD=Acceptance-Passw0rd
./xfer keygen -o k.txt >r.txt 2>/dev/null

measure() { # label command...: prints wall seconds and peak RSS
	local label=$1; shift
	/usr/bin/time -f '%e %M' -o t.txt "$@" >/dev/null
	read -r secs kib <t.txt
	awk -v l="$label" -v s="$secs" -v k="$kib" -v n="$(stat -c %s in.csv)" \
		'BEGIN { printf "%-8s %6.2f s  %7.1f MB/s of CSV  peak RSS %6.1f MiB\n", l, s, n / s / 1e6, k / 1024 }'
}
measure encrypt ./xfer encrypt in.csv -R r.txt -o sealed.age
measure decrypt ./xfer decrypt sealed.age -i k.txt -o out.csv
awk -v i="$(stat -c %s in.csv)" -v o="$(stat -c %s sealed.age)" \
	'BEGIN { printf "sizes    csv %d, sealed %d (%.1f%%)\n", i, o, o * 100 / i }'
cmp out.csv in.csv && echo "xfer decrypt: byte-identical"
rm out.csv
age -d -i k.txt -o inner.zip sealed.age
7zz x -p"$XFER_ZIP_PASSWORD" -o7z inner.zip >/dev/null
cmp 7z/in.csv in.csv && echo "age -d + 7zz x: byte-identical"
rm -rf 7z
mkdir bsd && bsdtar -xf inner.zip -C bsd --passphrase "$XFER_ZIP_PASSWORD"
cmp bsd/in.csv in.csv && echo "age -d + bsdtar: byte-identical"
