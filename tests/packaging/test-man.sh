#!/bin/sh
# The man pages render without a groff warning and document exactly what the
# programs accept:
#   - every command `vkinfer --help` lists has a section `.SS "vkinfer COMMAND
#     ..."` in man/vkinfer.1, and the reverse;
#   - every long option that `vkinfer COMMAND --help` prints is documented in
#     that command's section, as the tag of a .TP/.TQ item; the global options
#     (what `vkinfer --help` prints and what cli/main.c compares argv[1] with)
#     likewise, outside the commands' sections; and every --option written
#     anywhere in vkinfer.1 is accepted by some command (or globally);
#   - the same for `vkinferd --help` and man/vkinferd.8;
#   - every key of packaging/vkinferd.conf (`key =`, commented out or not)
#     and of `vkinferd --help`'s configuration section is documented in
#     man/vkinferd.conf.5, and every key documented there is in both. A key is
#     documented by a line `.BI "KEY = " VALUE` (after .TP).
# Options inside .EX/.EE examples are not counted: examples may show other
# programs' options (curl, busctl, systemctl).
# usage: test-man.sh SRCDIR VKINFER VKINFERD
set -eu
src=$1
vkinfer=$2
vkinferd=$3
command -v man >/dev/null || { echo "no man (man-db)" >&2; exit 77; }
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# ---- 1. Every page renders, and groff has nothing to say about it.
for page in vkinfer.1 vkinferd.8 vkinferd.conf.5; do
        if ! LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 MAN_DISABLE_SECCOMP=1 \
             man --warnings -E UTF-8 -l "$src/man/$page" >"$tmp/rendered" 2>"$tmp/stderr"; then
                echo "$page: man failed:" >&2
                cat "$tmp/stderr" >&2
                fail=1
        elif [ -s "$tmp/stderr" ]; then
                echo "$page: warnings while rendering:" >&2
                cat "$tmp/stderr" >&2
                fail=1
        elif [ ! -s "$tmp/rendered" ]; then
                echo "$page: rendered nothing" >&2
                fail=1
        fi
done

# The --options of a text, one per line, sorted.
long_opts() {
        grep -o -e '--[a-z][a-z0-9-]*' | sed 's/-*$//' | sort -u
}
# A page's text outside examples and comments, with roff's \- as -, and
# font and zero-width escapes dropped.
page_text() {
        sed -e '/^\.EX/,/^\.EE/d' -e '/^\.\\"/d' -e "/^'\\\\\"/d" \
            -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\[%&]//g' "$1"
}
# The tags of a page's .TP/.TQ items, each prefixed with the vkinfer command
# whose section (.SS "vkinfer COMMAND ...") holds it, or "-" outside those.
tags() {
        awk 'BEGIN { cmd = "-" }
             /^\.S[HS] / { cmd = "-" }
             /^\.SS "vkinfer / { cmd = $3 }
             tag { print cmd, $0; tag = 0 }
             /^\.T[PQ]/ { tag = 1 }' "$1" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g'
}
# Lines of file $1 that are not in file $2 (both sorted).
missing() {
        comm -23 "$1" "$2"
}
# Every line of file $1 must be in file $2; $3 says what a missing one means
# (%s: the line).
require() {
        for x in $(missing "$1" "$2"); do
                # shellcheck disable=SC2059
                printf "$3\n" "$x" >&2
                fail=1
        done
}

# ---- 2. vkinfer and vkinfer.1.
"$vkinfer" --help >"$tmp/vkinfer-help"
sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p' "$tmp/vkinfer-help" | sort -u >"$tmp/commands"
[ -s "$tmp/commands" ] || { echo "vkinfer --help lists no command" >&2; exit 1; }
# Global options: what `vkinfer --help` prints and what main.c compares argv[1] with.
{
        long_opts <"$tmp/vkinfer-help"
        grep -o 'argv\[1\], "--[a-z][a-z0-9-]*"' "$src/cli/main.c" | long_opts
} | sort -u >"$tmp/global"
cp "$tmp/global" "$tmp/accepted"
for c in $(cat "$tmp/commands"); do
        if ! "$vkinfer" "$c" --help >"$tmp/help-$c" 2>"$tmp/stderr"; then
                echo "vkinfer $c --help failed:" >&2
                cat "$tmp/stderr" >&2
                fail=1
        fi
        long_opts <"$tmp/help-$c" >"$tmp/opts-$c"
        cat "$tmp/opts-$c" >>"$tmp/accepted"
done
sort -u -o "$tmp/accepted" "$tmp/accepted"
tags "$src/man/vkinfer.1" >"$tmp/tags"
for c in $(cat "$tmp/commands"); do
        grep "^$c " "$tmp/tags" | long_opts >"$tmp/tagged"
        require "$tmp/opts-$c" "$tmp/tagged" "vkinfer.1: %s is not documented in the section of $c ('vkinfer $c --help' prints it)"
done
grep "^- " "$tmp/tags" | long_opts >"$tmp/tagged"
require "$tmp/global" "$tmp/tagged" "vkinfer.1: the global option %s is not documented (outside the commands' sections)"
page_text "$src/man/vkinfer.1" | long_opts >"$tmp/documented"
require "$tmp/documented" "$tmp/accepted" "vkinfer.1: %s is documented but no 'vkinfer COMMAND --help' has it"
sed -n 's/^\.SS "vkinfer \([a-z][a-z0-9\\-]*\).*/\1/p' "$src/man/vkinfer.1" | sed 's/\\-/-/g' | sort -u >"$tmp/sections"
require "$tmp/commands" "$tmp/sections" "vkinfer.1: no section (.SS \"vkinfer %s ...\") for that command"
require "$tmp/sections" "$tmp/commands" "vkinfer.1: a section documents 'vkinfer %s', which 'vkinfer --help' does not list"

# ---- 3. vkinferd and vkinferd.8.
"$vkinferd" --help >"$tmp/vkinferd-help"
long_opts <"$tmp/vkinferd-help" >"$tmp/accepted"
[ -s "$tmp/accepted" ] || { echo "vkinferd --help prints no option" >&2; exit 1; }
tags "$src/man/vkinferd.8" | long_opts >"$tmp/tagged"
require "$tmp/accepted" "$tmp/tagged" "vkinferd.8: %s is not documented as a .TP item ('vkinferd --help' prints it)"
page_text "$src/man/vkinferd.8" | long_opts >"$tmp/documented"
require "$tmp/documented" "$tmp/accepted" "vkinferd.8: %s is documented but 'vkinferd --help' does not have it"

# ---- 4. Configuration keys: packaging/vkinferd.conf, vkinferd --help and vkinferd.conf.5.
sed -n 's/^[#;]*[[:space:]]*\([a-z][a-z0-9-]*\)[[:space:]]*=.*/\1/p' "$src/packaging/vkinferd.conf" | sort -u >"$tmp/conf-keys"
sed -n '/^Configuration file keys/,$s/^  \([a-z][a-z0-9-]*\) = .*/\1/p' "$tmp/vkinferd-help" | sort -u >"$tmp/help-keys"
sed -n 's/^\.BI "\([a-z][a-z0-9\\-]*\) = ".*/\1/p' "$src/man/vkinferd.conf.5" | sed 's/\\-/-/g' | sort -u >"$tmp/page-keys"
[ -s "$tmp/conf-keys" ] || { echo "no key found in packaging/vkinferd.conf" >&2; exit 1; }
[ -s "$tmp/help-keys" ] || { echo "no key found in vkinferd --help" >&2; exit 1; }
require "$tmp/conf-keys" "$tmp/page-keys" "vkinferd.conf.5: key '%s' is missing (packaging/vkinferd.conf has it)"
require "$tmp/page-keys" "$tmp/conf-keys" "packaging/vkinferd.conf: key '%s' is missing (vkinferd.conf.5 documents it)"
require "$tmp/help-keys" "$tmp/page-keys" "vkinferd.conf.5: key '%s' is missing ('vkinferd --help' lists it)"
require "$tmp/page-keys" "$tmp/help-keys" "vkinferd.conf.5: key '%s' is documented but 'vkinferd --help' does not list it"

[ "$fail" = 0 ] && echo "man pages: rendered cleanly; $(wc -l <"$tmp/page-keys") keys, options and commands all match" >&2
exit $fail
