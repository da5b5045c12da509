#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine that has Swift 6.3.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(libsqlite3-dev libcurl4-openssl-dev postgresql prometheus)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# moto's AWS emulator: the EC2 client's contract test runs against it (an emulator we did not write).
if ! command -v moto_server >/dev/null 2>&1; then
  echo "installing: moto[server] (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]' >/dev/null
fi
