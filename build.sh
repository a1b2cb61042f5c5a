#!/bin/sh
# The two commands of the README:
#   ./build.sh demo   install what is missing, build, run the main job
#   ./build.sh test   install what is missing, build, run every test
# Idempotent: packages already present are not reinstalled, the build is
# incremental. Set VKINFER_NO_INSTALL=1 to skip the apt-get step.
set -eu
cd "$(dirname "$0")"

# Debian 12 packages (README.md says why each is there).
PACKAGES="build-essential meson ninja-build pkg-config python3
glslc glslang-tools spirv-tools
libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
libpcre2-dev libutf8proc-dev libjansson-dev libsystemd-dev libinih-dev libmicrohttpd-dev
curl"

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
        exec tests/run-tests.sh build
        ;;
*)
        echo "usage: $0 demo|test" >&2
        exit 2
        ;;
esac
