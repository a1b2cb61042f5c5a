#!/bin/sh
# systemd-analyze verify must print nothing on the units, and the security
# exposure must stay low. usage: test-units.sh SRCDIR VKINFERD
set -eu
src=$1
vkinferd=$2
command -v systemd-analyze >/dev/null || { echo "no systemd-analyze" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/system" "$tmp/user"
bindir=$(dirname "$vkinferd")
sed "s|@sbindir@|$bindir|" "$src/packaging/systemd/vkinferd.service.in" >"$tmp/system/vkinferd.service"
cp "$src/packaging/systemd/vkinferd.socket" "$tmp/system/"
sed "s|@sbindir@|$bindir|" "$src/packaging/systemd/user/vkinferd.service.in" >"$tmp/user/vkinferd.service"
cp "$src/packaging/systemd/user/vkinferd.socket" "$tmp/user/"

fail=0
out=$(cd "$tmp/system" && systemd-analyze verify --man=no ./vkinferd.service ./vkinferd.socket 2>&1) || fail=1
[ -z "$out" ] || { echo "system units: $out" >&2; fail=1; }
out=$(cd "$tmp/user" && XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$tmp} systemd-analyze --user verify --man=no ./vkinferd.service ./vkinferd.socket 2>&1) || true
# A user manager may be unavailable here; only unit errors count.
echo "$out" | grep -v -e "Failed to initialize manager" -e "No such file or directory" -e "^$" | grep . >&2 && fail=1
score=$(cd "$tmp/system" && systemd-analyze security --offline=true ./vkinferd.service 2>/dev/null |
        sed -n 's/.*Overall exposure level for vkinferd.service: \([0-9.]*\).*/\1/p')
echo "exposure score: $score" >&2
awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }' || { echo "exposure $score > 2.0" >&2; fail=1; }
# The unit's hardening that issue 7 asks for is there.
for key in Type=notify WatchdogSec= DevicePolicy=closed "DeviceAllow=char-drm rw" PrivateNetwork=yes \
           RestrictAddressFamilies=AF_UNIX ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
           StateDirectory= CacheDirectory= RuntimeDirectory= SystemCallFilter=@system-service \
           "SupplementaryGroups=render video"; do
        grep -q "^$key" "$tmp/system/vkinferd.service" || { echo "missing $key" >&2; fail=1; }
done
exit $fail
