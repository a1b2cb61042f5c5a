#!/bin/sh
# Build the Debian package from this tree as a packager would, and check it:
#   dpkg-buildpackage -b -us -uc   (debhelper 13 + meson; no tests in the build)
#   lintian                        no error and no warning
#   tests/packaging/test-package-contents.py on the .deb: it holds exactly what
#                                  meson installs, and everything the units and
#                                  bus files refer to
# usage: packaging/check-deb.sh [OUTDIR]   (default: build-deb/)
# Needs: the Build-Depends of debian/control, dpkg-dev, debhelper, lintian
# (build.sh test installs them). Takes a few minutes on 2 cores.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
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
