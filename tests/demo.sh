#!/bin/sh
# The README's main job. For now: list the Vulkan devices and run the kernel
# self-check; later it serves the demo model through vkinferd.
set -eu
dir=${1:-build}
"$dir/cli/vkinfer" version
"$dir/cli/vkinfer" devices
"$dir/cli/vkinfer" selftest
