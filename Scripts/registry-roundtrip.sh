#!/usr/bin/env bash
# Shows the SE registry end to end with a throwaway config and state file (no AWS involved):
# check-config, customer add, list, show, remove. Becomes `privatelink-consumer demo` when that exists.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product privatelink-consumer >/dev/null
bin="$(swift build --show-bin-path)/privatelink-consumer"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed -e "s#/var/lib/privatelink-consumer/#$work/state/#" -e "s#/var/log/privatelink-consumer/#$work/log/#" \
  config.example.json > "$work/config.json"
export PRIVATELINK_CONSUMER_CONFIG="$work/config.json"
run() { echo "\$ privatelink-consumer $*"; "$bin" "$@"; echo; }
run check-config
run customer add acme --arn arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0 --note "ticket 1234"
run customer add globex --arn arn:aws:vpc-lattice:us-east-1:444455556666:resourceconfiguration/rcfg-0fedcba9876543210 --port 6432
run customer list
run customer show acme
echo "\$ privatelink-consumer customer add bad --arn arn:aws:vpc-lattice:eu-west-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0"
"$bin" customer add bad --arn arn:aws:vpc-lattice:eu-west-1:111122223333:resourceconfiguration/rcfg-0123456789abcdef0 || echo "(exit $?)"
echo
run customer remove globex
run customer list --json
