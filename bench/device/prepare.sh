#!/bin/sh
# Gathers what bench/device/run.sh needs on a lent GPU machine (which has the
# NVIDIA driver but none of our libraries) into .device/ at the repository
# root: the built binaries (from build/, so run ./build.sh test first) and
# the Debian packages of their runtime libraries, the Vulkan loader and the
# validation layer, downloaded here for amd64. Then, from the device tool:
#   run  carry=[".device"]  command="sh bench/device/run.sh"
# The results come back in $OUT/device-check.txt.
set -eu
cd "$(dirname "$0")/../.."
rm -rf .device
mkdir -p .device/bin .device/debs
for f in build/cli/vkinfer build/tests/vk/test-* build/tests/forward/test-* build/tests/forward/fwd-bench \
         build/tests/golden/test-demo-logits; do
        [ -f "$f" ] && [ -x "$f" ] && cp "$f" .device/bin/
done
lists=/tmp/vkinfer-apt-amd64
mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
# shellcheck disable=SC2086
apt-get $o update -qq
# shellcheck disable=SC2086
(cd .device/debs && apt-get $o download -qq libvulkan1 libpcre2-8-0 libjansson4 libutf8proc2 \
        vulkan-validationlayers libegl1 libglvnd0)
du -sh .device
