#!/usr/bin/env bash
# Regenerates Deploy/link-order.txt: the functions the release daemon runs while it starts, reconciles, probes,
# idles and stops, as callgrind sees them, in the order the link lays them out (Package.swift's linker
# settings put them next to each other, so that the kernel maps fewer 64 KiB windows of code; see
# Deploy/README.md "Code layout"). Run it after a change that moves much of the daemon's code; names that no
# longer exist are skipped by the link, and new functions are laid out where they would have been anyway.
#
#   Scripts/link-order.sh        # a few minutes: a release build, then the bench's idle daemon over 1,200
#                                # customers under callgrind (more than a page of each AWS listing)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind nm strip; do
  command -v "$tool" >/dev/null || { echo "link-order.sh: $tool is missing (apt-get install valgrind binutils)" >&2; exit 69; }
done

scratch=.build-release
swift build -c release --static-swift-stdlib --product privatelink-consumer-bench --scratch-path "$scratch" >&2
swift build -c release --static-swift-stdlib --product privatelink-consumer --scratch-path "$scratch" >&2
bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)

# Beside the build (one file system: the binary is moved, never copied, and put back by a rename).
work=$(mktemp -d "$PWD/$scratch/link-order.XXXXXX")
valgrind=$(command -v valgrind)   # the bench gives the daemon PATH=/usr/bin:/bin
restore() {
  if [ -e "$work/original" ]; then mv -f "$work/original" "$bin/privatelink-consumer"; fi
  rm -rf "$work"
}
trap restore EXIT

# The bench starts the daemon next to it: a wrapper runs it under callgrind instead (from a copy without debug
# information, which valgrind cannot read in this binary), and the binary is put back at the end.
strip --strip-debug -o "$work/daemon" "$bin/privatelink-consumer"
mv "$bin/privatelink-consumer" "$work/original"
cat > "$bin/privatelink-consumer" <<EOF
#!/bin/sh
exec "$valgrind" --tool=callgrind --demangle=no --dump-instr=no --compress-strings=no --compress-pos=no \\
  --callgrind-out-file="$work/callgrind.%p" "$work/daemon" "\$@"
EOF
chmod 0755 "$bin/privatelink-consumer"
"$bin/privatelink-consumer-bench" --only idle --customers 1200 --idle-seconds 5 >&2

ls "$work"/callgrind.* >/dev/null 2>&1 || { echo "link-order.sh: callgrind wrote no profile" >&2; exit 70; }
# Every function a profile names (`fn=(id) name`, or `fn=name`).
sed -n -E 's/^fn=(\([0-9]+\) )?//p' "$work"/callgrind.* > "$work/executed"
# Those the binary defines, in its present address order (a module's functions stay together), once each.
nm --defined-only -n "$work/original" | awk '{ print $NF }' \
  | awk 'NR == FNR { run[$0] = 1; next } ($0 in run) && !seen[$0]++' "$work/executed" - > "$work/order"
count=$(wc -l < "$work/order")
[ "$count" -ge 1000 ] || { echo "link-order.sh: only $count functions found; Deploy/link-order.txt left as it is" >&2; exit 70; }
cp "$work/order" Deploy/link-order.txt
echo "Deploy/link-order.txt: $count functions" >&2
