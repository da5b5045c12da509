#!/usr/bin/env bash
# The product end to end on this machine, no AWS account involved: the LatticeSimulator plays AWS
# (RAM, EC2, VPC Lattice, STS over loopback, verifying SigV4), a throwaway config and state file play
# the server. An SE registers two customers, a stranger's share arrives too, and the daemon's passes
# accept what matches, create the endpoints and report the rest: `demo`, one CLI command at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product privatelink-consumer >/dev/null
swift build --product lattice-simulator >/dev/null
bin="$(swift build --show-bin-path)"
work="$(mktemp -d)"
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/scenario.json" <<'JSON'
{"invitations": [
   {"sender": "111122223333", "shareName": "acme-db",
    "resources": [{"arn": "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0"}]},
   {"sender": "555566667777", "shareName": "not-ours",
    "resources": [{"arn": "arn:aws:vpc-lattice:us-east-1:555566667777:resourceconfiguration/rcfg-0000000000000000f"}]}],
 "organizationShares": [
   {"owner": "444455556666", "shareName": "globex-db",
    "resources": [{"arn": "arn:aws:vpc-lattice:us-east-1:444455556666:resourceconfiguration/rcfg-0fedcba9876543210"}]}]}
JSON
"$bin/lattice-simulator" --scenario "$work/scenario.json" > "$work/sim.env" &
sim_pid=$!
for _ in $(seq 50); do grep -q '^# ready' "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
set -a; . <(grep -v '^#' "$work/sim.env"); set +a

sed -e "s#/var/lib/privatelink-consumer/#$work/state/#" -e "s#/var/log/privatelink-consumer/#$work/log/#" \
    -e 's#"metrics": { "listen": "127.0.0.1:9464" }#"ec2Pacing": { "burst": 10, "refillPerSecond": 10 }#' \
  config.example.json > "$work/config.json"
export PRIVATELINK_CONSUMER_CONFIG="$work/config.json"
run() { echo "\$ privatelink-consumer $*"; "$bin/privatelink-consumer" "$@"; echo; }
run check-config --aws
run customer add acme --arn arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0 --note "ticket 1234"
run customer add globex --arn arn:aws:vpc-lattice:us-east-1:444455556666:resourceconfiguration/rcfg-0fedcba9876543210 --port 6432
for pass in 1 2 3 4; do run run --once --log-level notice; done
run status
run invitations
run endpoints
echo "\$ tail -n 4 health.jsonl"; tail -n 4 "$work/log/health.jsonl"
