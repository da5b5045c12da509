#!/usr/bin/env bash
# The package on a clean host, for real (CI runs it after the test suite: `.ci/run`).
#
#   Scripts/test-package.sh [--deb PATH]
#
# Builds the package (Scripts/package-deb.sh) unless given one, bootstraps a minimal Debian 12 root with
# systemd (debootstrap --variant=minbase), installs the .deb there with apt-get, and checks inside the root:
#   1. chroot: --version, check-config on the shipped example, and the whole flow against the simulator on
#      loopback (customer add, run --once until ready, status);
#   2. the root booted with systemd (systemd-nspawn -b): the shipped unit, unchanged but for a drop-in with
#      the simulator's AWS_* environment, starts (Type=notify), pings the watchdog, onboards and probes a
#      customer under its full hardening, does not restart, and stops cleanly;
#   3. an upgrade to a newer build of the package restarts the running daemon and keeps its state; removal
#      keeps /etc and the state, purge removes them and says so.
# Skips (exit 0, with the reason) when not root or when debootstrap / systemd-nspawn are missing. Network:
# the machine's configured Debian mirror (debootstrap, apt) and loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$(pwd)
deb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="$2"; shift 2 ;;
    *) echo "test-package.sh: unknown argument $1 (usage: Scripts/test-package.sh [--deb PATH])" >&2; exit 64 ;;
  esac
done
skip() { echo "package test: skipped: $1"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, systemd-nspawn)"
command -v debootstrap >/dev/null || skip "debootstrap is missing (apt-get install debootstrap)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (apt-get install systemd-container)"

passed=0 failed=0
check() { # check NAME COMMAND...: one named check, counted
  local name=$1; shift
  if "$@" >/tmp/plc-check.out 2>&1; then passed=$((passed + 1)); echo "ok: $name"
  else failed=$((failed + 1)); echo "FAILED: $name"; sed 's/^/    /' /tmp/plc-check.out | tail -n 20; fi
}

work=$(mktemp -d /var/tmp/plc-package.XXXXXX)
chmod 0755 "$work"   # the PostgreSQL below runs as plctest
sim_pid="" pg_dir="" nspawn_pid=""
cleanup() {
  set +e
  [ -n "$nspawn_pid" ] && kill "$nspawn_pid" 2>/dev/null && wait "$nspawn_pid" 2>/dev/null
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  [ -n "$pg_dir" ] && su plctest -s /bin/sh -c "$pg_bin/pg_ctl -D '$pg_dir/data' -m immediate stop" >/dev/null 2>&1
  for m in proc sys dev/pts dev; do umount -l "$work/root/$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
built_here=no
if [ -z "$deb" ]; then deb=$(Scripts/package-deb.sh | tail -n 1); built_here=yes; fi
deb=$(realpath "$deb")
echo "package: $deb"
if command -v lintian >/dev/null; then
  # Errors fail; the warnings kept are explained in Deploy/README.md ("lintian").
  lintian_clean() { lintian --no-tag-display-limit "$deb" | tee "$work/lintian.txt"; ! grep -q '^E: ' "$work/lintian.txt"; }
  check "lintian reports no errors" lintian_clean
else
  echo "lintian is missing: not run (apt-get install lintian)"
fi
# The release build lays out the code the daemon runs together (Package.swift, Deploy/link-order.txt): the
# functions the list names sit in at most 300 windows of 64 KiB (189 with the layout on 2026-12-07, 387
# without it), each a window the kernel maps whole.
code_laid_out() {
  local unstripped
  unstripped="$(swift build -c release --static-swift-stdlib --scratch-path .build-release --show-bin-path)/privatelink-consumer"
  [ -f "$unstripped" ] || { echo "no release build at $unstripped"; return 1; }
  nm -S --defined-only "$unstripped" > "$work/symbols" || return 1
  python3 - "$work/symbols" Deploy/link-order.txt <<'PY'
import sys
wanted = set(open(sys.argv[2]).read().split())
windows, found = set(), set()
for line in open(sys.argv[1]):
    fields = line.split()
    if len(fields) == 4 and fields[3] in wanted:
        start, size = int(fields[0], 16), max(int(fields[1], 16), 1)
        found.add(fields[3])
        windows.update(range(start // 65536, (start + size - 1) // 65536 + 1))
print(f"{len(found)} of {len(wanted)} listed functions in {len(windows)} windows of 64 KiB")
sys.exit(0 if len(found) >= len(wanted) // 2 and len(windows) <= 300 else 1)
PY
}
# (Only for the package built here: a given --deb may come from another build.)
if [ "$built_here" = yes ]; then check "the daemon's code is laid out together" code_laid_out; fi

# The simulator (AWS on loopback) and a real PostgreSQL (the customer's database) on the host: a chroot and an
# nspawn container without --private-network share the host's loopback.
swift build --product lattice-simulator >/dev/null
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
id plctest >/dev/null 2>&1 || useradd --system --create-home --shell /bin/sh plctest
pg_dir="$work/pg"; install -d -o plctest "$pg_dir"
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
su plctest -s /bin/sh -c "$pg_bin/initdb -D '$pg_dir/data' -A trust -U postgres >/dev/null && \
  $pg_bin/pg_ctl -D '$pg_dir/data' -l '$pg_dir/log' -o \"-p $pg_port -k '$pg_dir' -c listen_addresses=127.0.0.1\" -w start >/dev/null"
rcfg() { printf 'arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-%017x' "$1"; }
cat > "$work/scenario.json" <<JSON
{"provisioning": {"endpoints": "instant"},
 "invitations": [
   {"sender": "111122223333", "shareName": "acme", "resources": [{"arn": "$(rcfg 1)", "dnsName": "localhost", "domainName": "acme.example", "port": $pg_port}]},
   {"sender": "111122223333", "shareName": "globex", "resources": [{"arn": "$(rcfg 2)", "dnsName": "localhost", "domainName": "globex.example", "port": $pg_port}]}]}
JSON
"$(swift build --show-bin-path)/lattice-simulator" --scenario "$work/scenario.json" > "$work/sim.env" &
sim_pid=$!
for _ in $(seq 100); do grep -q '^# ready' "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
grep '^AWS_' "$work/sim.env" > "$work/aws.env"

# A clean Debian 12 root, systemd included for the second half.
echo "bootstrapping Debian 12 (minbase, systemd) into $work/root"
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$work/root" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log"; echo "package test: debootstrap failed"; exit 1; }
cp /etc/resolv.conf "$work/root/etc/resolv.conf"
# A host has these; debootstrap does not write them (the probe resolves the simulator's "localhost").
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$work/root/etc/hosts"
mount -t proc proc "$work/root/proc"; mount --bind /dev "$work/root/dev"; mount --bind /dev/pts "$work/root/dev/pts"; mount -t sysfs sys "$work/root/sys"
in_root() { chroot "$work/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
check "no Swift toolchain in the root" bash -c "! ls '$work'/root/usr/lib/swift* '$work'/root/opt/swift >/dev/null 2>&1"

cp "$deb" "$work/root/tmp/"
check "apt-get install ./the.deb" in_root sh -c "apt-get install -y -q /tmp/$(basename "$deb") >/tmp/apt.log 2>&1 || { tail -n 20 /tmp/apt.log; exit 1; }"
version=$(tr -d '[:space:]' < VERSION)
check "--version names the release and the commit" bash -c "chroot '$work/root' privatelink-consumer --version | grep -E '^$version \(commit [0-9a-f]{12}\)\$'"
check "the system user exists" in_root getent passwd privatelink-consumer
check "man page, completions, examples installed" in_root sh -c 'test -f /usr/share/man/man1/privatelink-consumer.1.gz && test -s /usr/share/bash-completion/completions/privatelink-consumer && test -s /usr/share/zsh/vendor-completions/_privatelink-consumer && test -s /usr/share/fish/vendor_completions.d/privatelink-consumer.fish && test -f /usr/share/doc/privatelink-consumer/examples/config.example.json && test -f /usr/share/doc/privatelink-consumer/examples/alerts.yml'
check "the unit is installed and enabled, not failed" in_root sh -c 'test -f /lib/systemd/system/privatelink-consumer.service && test -L /etc/systemd/system/multi-user.target.wants/privatelink-consumer.service'
check "check-config accepts the shipped example" in_root privatelink-consumer check-config --config /usr/share/doc/privatelink-consumer/examples/config.example.json

# 1. The whole flow in the chroot, as an SE and a one-shot daemon would run it.
install -d "$work/root/root/flow"
sed -e 's#/var/lib/privatelink-consumer/#/root/flow/#' -e 's#/var/log/privatelink-consumer/#/root/flow/#' \
    -e 's#"metrics": { "listen": "127.0.0.1:9464" }#"ec2Pacing": { "burst": 10, "refillPerSecond": 10 }#' \
    config.example.json > "$work/root/root/flow/config.json"
flow() { chroot "$work/root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root $(cat "$work/aws.env") privatelink-consumer "$@" --config /root/flow/config.json; }
check "customer add" flow customer add acme --arn "$(rcfg 1)" --port "$pg_port"
ready=no
for _ in 1 2 3 4 5 6; do flow run --once >/dev/null 2>&1 || true; if flow status --json | grep -q '"state":"ready"'; then ready=yes; break; fi; done
check "run --once until ready" test "$ready" = yes
acme_ready_and_healthy() { flow status | grep -E 'acme +ready' && flow status --json | grep -q '"health":"healthy"'; }
check "status shows acme ready and healthy" acme_ready_and_healthy
for m in sys dev/pts dev proc; do umount "$work/root/$m"; done

# 2. Boot the root with systemd; the shipped unit, unchanged, with the simulator's environment in a drop-in.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e 's#"metrics": { "listen": "127.0.0.1:9464" }#"metrics": { "listen": "127.0.0.1:'"$port"'" }, "ec2Pacing": { "burst": 10, "refillPerSecond": 10 }#' \
    -e 's#"pollIntervalSeconds": 60#"pollIntervalSeconds": 2#' -e 's#"probeIntervalSeconds": 60#"probeIntervalSeconds": 2#' \
    config.example.json > "$work/root/etc/privatelink-consumer/config.json"
chroot "$work/root" chgrp privatelink-consumer /etc/privatelink-consumer/config.json; chmod 0640 "$work/root/etc/privatelink-consumer/config.json"
install -d "$work/root/etc/systemd/system/privatelink-consumer.service.d"
{ echo "[Service]"; sed 's/^/Environment=/' "$work/aws.env"; } > "$work/root/etc/systemd/system/privatelink-consumer.service.d/simulator.conf"
cmp -s Deploy/privatelink-consumer.service "$work/root/lib/systemd/system/privatelink-consumer.service" && passed=$((passed + 1)) && echo "ok: the installed unit is the shipped one" \
  || { failed=$((failed + 1)); echo "FAILED: the installed unit differs from Deploy/privatelink-consumer.service"; }
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 systemd-nspawn -q -b -D "$work/root" --register=no --keep-unit >"$work/nspawn.log" 2>&1 </dev/null &
nspawn_pid=$!
init_pid=""
for _ in $(seq 100); do
  init_pid=$(pgrep -P "$nspawn_pid" -x systemd 2>/dev/null | head -n 1 || true)
  [ -n "$init_pid" ] && break; sleep 0.2
done
[ -n "$init_pid" ] || { tail -n 30 "$work/nspawn.log"; echo "package test: the container did not boot"; failed=$((failed + 1)); echo "package: $passed passed, $failed failed"; exit 1; }
inside() { nsenter -t "$init_pid" -a /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
for _ in $(seq 150); do state=$(inside systemctl is-system-running 2>/dev/null || true); case "$state" in running|degraded) break ;; esac; sleep 0.2; done
inside systemctl daemon-reload
check "systemctl start (Type=notify: returns once READY=1)" inside systemctl start privatelink-consumer
check "the service is active" inside systemctl is-active privatelink-consumer
se() { inside runuser -u privatelink-consumer -- privatelink-consumer "$@" --config /etc/privatelink-consumer/config.json; }
check "an SE registers globex as the daemon's user" se customer add globex --arn "$(rcfg 2)" --port "$pg_port"
onboarded=no
for _ in $(seq 60); do if se status --json | grep -q '"health":"healthy"'; then onboarded=yes; break; fi; sleep 1; done
check "globex onboarded and probed healthy under the unit's hardening" test "$onboarded" = yes
unit() { inside systemctl show -p "$1" --value privatelink-consumer; }
watchdog_pinged() { test "$(unit WatchdogTimestampMonotonic)" != 0 && test -n "$(unit WatchdogTimestampMonotonic)"; }
check "the watchdog was pinged" watchdog_pinged
no_restarts() { test "$(unit NRestarts)" = 0; }
check "no restarts" no_restarts
metrics_answer() {
  curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^privatelink_consumer_customer_healthy\{.*globex.*\} 1(\.0)?$' && return 0
  curl -sS "http://127.0.0.1:$port/metrics" | grep -E "customer_(healthy|state)" ; ss -ltnp | grep ":$port " ; inside journalctl -u privatelink-consumer --no-pager | tail -n 5; return 1
}
check "metrics answer from the host (globex healthy)" metrics_answer

# 3. An upgrade restarts the running daemon and keeps its state; removal keeps /etc and the state; purge removes them.
before_pid=$(inside systemctl show -p MainPID --value privatelink-consumer)
up="$work/upgrade"; mkdir -p "$up"; dpkg-deb -R "$deb" "$up/pkg"
sed -i "s/^Version: .*/Version: ${version}+test1/" "$up/pkg/DEBIAN/control"
# Not /tmp: the container has a tmpfs of its own there.
dpkg-deb --root-owner-group -Zxz --build "$up/pkg" "$work/root/var/tmp/upgrade.deb" >/dev/null
check "apt-get install of a newer package" inside apt-get install -y -q /var/tmp/upgrade.deb
after_pid=$(inside systemctl show -p MainPID --value privatelink-consumer)
check "the upgrade restarted the running daemon" bash -c "test -n '$after_pid' && test '$after_pid' != 0 && test '$after_pid' != '$before_pid'"
state_survived() { se status --json | grep -q '"name":"globex"'; }
check "the state survived the upgrade" state_survived
check "systemctl stop is clean" inside systemctl stop privatelink-consumer
stopped_cleanly() { test "$(unit Result)" = success && test "$(unit ActiveState)" = inactive; }
check "the unit's result is success" stopped_cleanly
check "apt-get remove keeps /etc and the state" inside sh -c 'apt-get remove -y -q privatelink-consumer >/dev/null && test -f /etc/privatelink-consumer/config.json && test -f /var/lib/privatelink-consumer/state.sqlite3 && ! test -e /usr/bin/privatelink-consumer'
check "purge removes them and says so" inside sh -c 'apt-get purge -y -q privatelink-consumer 2>&1 | grep -q "purge removes /etc/privatelink-consumer" && ! test -e /etc/privatelink-consumer && ! test -e /var/lib/privatelink-consumer'
inside systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
nspawn_pid=""

echo "package test took $(( $(date +%s) - started )) s"
echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
