#!/bin/sh
# vkinferd takes its socket from systemd (sd_listen_fds), through
# systemd-socket-activate, and answers on it.
# usage: test-socket-activation.sh VKINFERD MODEL
set -u
vkinferd=$1
model=$2
command -v systemd-socket-activate >/dev/null || { echo "no systemd-socket-activate" >&2; exit 77; }
command -v curl >/dev/null || { echo "no curl" >&2; exit 77; }
tmp=$(mktemp -d)
sock="$tmp/activated.sock"
systemd-socket-activate -l "$sock" "$vkinferd" --no-dbus --model "$model" >"$tmp/log" 2>&1 &
pid=$!
fail=0
# The socket exists before the daemon runs: the first request starts it.
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
out=$(curl -s --max-time 60 --unix-socket "$sock" http://localhost/v1/models)
echo "$out" | grep -q '"object":"list"' || { echo "no answer on the activated socket: $out" >&2; fail=1; }
grep -q "socket activation" "$tmp/log" || { echo "daemon did not use the passed socket" >&2; fail=1; }
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null
[ $fail = 0 ] || cat "$tmp/log" >&2
rm -rf "$tmp"
exit $fail
