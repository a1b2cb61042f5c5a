#!/bin/sh
# The two commands of the README:
#   ./build.sh demo   install what is missing, build, run the main job
#   ./build.sh test   install what is missing, build, run every test; then
#                     the same sources with clang under ASan+UBSan (build-asan)
#                     for the unit and fuzz suites (VKINFER_NO_ASAN=1 skips it)
# Idempotent: packages already present are not reinstalled, the build is
# incremental. Set VKINFER_NO_INSTALL=1 to skip the apt-get step.
set -eu
cd "$(dirname "$0")"

# Debian 12 packages (README.md says why each is there).
PACKAGES="build-essential meson ninja-build pkg-config python3
glslc glslang-tools spirv-tools
libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
libpcre2-dev libjansson-dev libsystemd-dev libinih-dev libmicrohttpd-dev curl
systemd dbus-daemon libglib2.0-bin clang libclang-rt-14-dev libutf8proc-dev
man-db dpkg-dev debhelper lintian rpm git"

install_missing() {
        [ "${VKINFER_NO_INSTALL:-0}" = 1 ] && return 0
        missing=""
        for p in $PACKAGES; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
        done
        [ -z "$missing" ] && return 0
        echo "build.sh: installing:$missing" >&2
        if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # shellcheck disable=SC2086
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}

configure() { # $1 = build dir, rest = meson options
        dir=$1; shift
        if [ -f "$dir/build.ninja" ]; then
                meson configure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@"
        fi
        ninja -C "$dir"
}

mode=${1:-}
case "$mode" in
demo)
        install_missing
        configure build
        exec tests/demo.sh build
        ;;
test)
        install_missing
        configure build -Dwerror=true
        if [ "${VKINFER_NO_ASAN:-0}" = 1 ]; then
                exec tests/run-tests.sh build
        fi
        # A second build with clang under ASan+UBSan (any UB aborts) and the
        # libFuzzer targets: runs the CPU suites and a short fuzz of each target,
        # then the Vulkan, daemon and golden suites (leak checks off there: the
        # drivers and layers are not ours).
        if [ ! -f build-asan/build.ninja ]; then
                CC=clang meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
                        -Db_lundef=false -Dfuzz=true -Dc_args=-fno-sanitize-recover=all
        fi
        ninja -C build-asan
        exec tests/run-tests.sh build build-asan:unit,fuzz build-asan:gpu,daemon,golden:noleaks
        ;;
*)
        echo "usage: $0 demo|test" >&2
        exit 2
        ;;
esac
