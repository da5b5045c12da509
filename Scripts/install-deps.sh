#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine that has Swift 6.3.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(libsqlite3-dev libcurl4-openssl-dev postgresql)
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
