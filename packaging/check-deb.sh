#!/bin/sh
# Build the Debian package from this tree as a packager would, and check it:
#   dpkg-buildpackage -b -us -uc   (debhelper 13 + meson; no tests in the build)
#   lintian                        no error and no warning
#   tests/packaging/test-package-contents.py on the .deb: it holds exactly what
#                                  meson installs, and everything the units and
#                                  bus files refer to
#   --install (root, on a disposable machine only): dpkg -i the package, check
#                                  its user, folders and enabled socket, run its
#                                  autopkgtest (debian/tests/smoke), run the
#                                  installed vkinferd as that user on the
#                                  installed demo model and ask it over curl,
#                                  then purge it again
# usage: packaging/check-deb.sh [--install] [OUTDIR]   (default: build-deb/)
# Needs: the Build-Depends of debian/control, dpkg-dev, debhelper, lintian
# (build.sh test installs them). Takes a few minutes on 2 cores.
set -eu
cd "$(dirname "$0")/.."
# As a test (tests/packaging/meson.build): 77 = skipped, for what is missing.
for tool in dpkg-buildpackage dh lintian git; do
        command -v $tool >/dev/null || { echo "check-deb: no $tool (apt-get install dpkg-dev debhelper lintian git)" >&2; exit 77; }
done
git rev-parse --git-dir >/dev/null 2>&1 || { echo "check-deb: not a git checkout" >&2; exit 77; }
src=$(pwd)
install=0
if [ "${1:-}" = --install ]; then install=1; shift; fi
out=${1:-build-deb}
rm -rf "$out"
mkdir -p "$out/src"
out=$(cd "$out" && pwd)
# The tracked and new (not ignored) files, as a clean clone would have them.
git ls-files -z --cached --others --exclude-standard |
        tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$out/src"
(cd "$out/src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$out/build.log" 2>&1 || {
        tail -40 "$out/build.log" >&2
        echo "check-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2
        exit 1
}
deb=$(ls "$out"/vkinfer_*.deb)
echo "check-deb: built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
changes=$(ls "$out"/vkinfer_*.changes)
if ! lintian --fail-on error,warning --info --display-info "$changes" >"$out/lintian.log" 2>&1; then
        cat "$out/lintian.log" >&2
        echo "check-deb: lintian reports errors or warnings" >&2
        exit 1
fi
echo "check-deb: lintian: no errors or warnings ($(grep -c '^[IP]:' "$out/lintian.log" || true) info/pedantic tags, see $out/lintian.log)"
# Compare against a /usr-prefixed view of the same tree's install rules.
meson setup --reconfigure "$out/meson" -Dprefix=/usr -Dtests=false >/dev/null 2>&1 ||
        meson setup "$out/meson" -Dprefix=/usr -Dtests=false >/dev/null
python3 tests/packaging/test-package-contents.py "$src" "$out/meson" "$deb"

[ "$install" = 1 ] || exit 0

# ---- install, use, purge -------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "check-deb: --install needs root" >&2; exit 1; }
if dpkg -s vkinfer >/dev/null 2>&1; then
        echo "check-deb: vkinfer is already installed here; not touching it" >&2
        exit 1
fi
fail=0
check() { # description, command...
        what=$1; shift
        if "$@" >/dev/null 2>&1; then echo "check-deb: ok: $what"; else echo "check-deb: FAIL: $what" >&2; fail=1; fi
}
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$out/install.log" 2>&1 ||
        dpkg -i "$deb" >>"$out/install.log" 2>&1 || { cat "$out/install.log" >&2; exit 1; }
check "system user vkinfer exists" id vkinfer
check "/var/lib/vkinfer/models made by tmpfiles" test -d /var/lib/vkinfer/models
check "socket enabled (sockets.target.wants)" test -L /etc/systemd/system/sockets.target.wants/vkinferd.socket
check "service not enabled (socket-activated)" test ! -e /etc/systemd/system/multi-user.target.wants/vkinferd.service
check "configuration is a conffile" grep -qx /etc/vkinfer/vkinferd.conf /var/lib/dpkg/info/vkinfer.conffiles
check "man vkinferd.conf renders" sh -c 'MAN_DISABLE_SECCOMP=1 man -P cat 5 vkinferd.conf | grep -q dbus'
check "vkinfer inspect reads the demo model" sh -c 'vkinfer inspect /usr/share/vkinfer/models/vkinfer-demo.gguf | grep -q deepseek2'
# The package's own autopkgtest (debian/tests/smoke), as a user would run it.
smoke=$(mktemp -d /tmp/vkinfer-smoke.XXXXXX)
chmod 777 "$smoke"
check "debian/tests/smoke passes" runuser -u vkinfer -- env AUTOPKGTEST_TMP="$smoke" sh debian/tests/smoke
rm -rf "$smoke"
run=$(mktemp -d /tmp/vkinfer-deb.XXXXXX)
chown vkinfer "$run"
# As the service would: its user, no model configured (the demo is served),
# the shipped configuration, a cache folder of its own.
runuser -u vkinfer -- env XDG_CACHE_HOME="$run" /usr/sbin/vkinferd --no-dbus --socket "$run/s.sock" \
        >"$out/vkinferd.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
        [ -S "$run/s.sock" ] && curl -sf --unix-socket "$run/s.sock" http://localhost/health >/dev/null && break
        sleep 0.2
done
check "installed vkinferd serves vkinfer-demo" sh -c "curl -sf --unix-socket '$run/s.sock' http://localhost/v1/models | grep -q vkinfer-demo"
check "installed vkinferd answers a chat" sh -c "curl -sf --unix-socket '$run/s.sock' http://localhost/v1/chat/completions \
        -d '{\"messages\":[{\"role\":\"user\",\"content\":\"And God said\"}],\"max_tokens\":8,\"seed\":1}' |
        grep -q '\"completion_tokens\":8'"
# A model copied into the service's models folder is served after a reload.
cp /usr/share/vkinfer/models/vkinfer-demo.gguf /var/lib/vkinfer/models/kjv.gguf
# runuser would take the SIGHUP as the end of its session: signal vkinferd itself
kill -HUP "$(pgrep -P "$pid" -x vkinferd || echo "$pid")"
for _ in $(seq 100); do
        curl -sf --unix-socket "$run/s.sock" http://localhost/v1/models | grep -q '"kjv"' && break
        sleep 0.2
done
check "a model copied into /var/lib/vkinfer/models is served after a reload" \
        sh -c "curl -sf --unix-socket '$run/s.sock' http://localhost/v1/models | grep -q '\"kjv\"'"
rm -f /var/lib/vkinfer/models/kjv.gguf
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
rm -rf "$run"
dpkg --purge vkinfer >>"$out/install.log" 2>&1 || { echo "check-deb: FAIL: purge" >&2; fail=1; }
check "purge removes the binaries" test ! -e /usr/sbin/vkinferd
check "purge removes the socket link" test ! -e /etc/systemd/system/sockets.target.wants/vkinferd.socket
check "purge removes the configuration" test ! -e /etc/vkinfer/vkinferd.conf
[ "$fail" = 0 ] || { cat "$out/vkinferd.log" >&2; exit 1; }
echo "check-deb: installed, served a request as user vkinfer, purged"
