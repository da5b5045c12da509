#!/usr/bin/env bash
# Builds the release Debian package: dist/privatelink-consumer_<version>_<arch>.deb (the last line printed).
#
#   Scripts/package-deb.sh [--scratch-path DIR]
#
# The binary is a release build with the Swift runtime linked in (--static-swift-stdlib), stripped, and
# stamped with VERSION and the git commit; the package's files come from Deploy/ (the unit, sysusers entry,
# maintainer scripts in Deploy/debian/) and the repo's examples; Depends: is what dpkg-shlibdeps finds the
# binary needs. Needs dpkg-dev; nothing is fetched but Swift packages from the configured mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scratch="$root/.build-release"
while [ $# -gt 0 ]; do
  case "$1" in
    --scratch-path) scratch="$2"; shift 2 ;;
    *) echo "package-deb.sh: unknown argument $1 (usage: Scripts/package-deb.sh [--scratch-path DIR])" >&2; exit 64 ;;
  esac
done

version=$(tr -d '[:space:]' < VERSION)
changelog_version=$(sed -n '1s/^privatelink-consumer (\([^)]*\)).*/\1/p' Deploy/debian/changelog)
if [ "$version" != "$changelog_version" ]; then
  echo "package-deb.sh: VERSION says $version but Deploy/debian/changelog's first entry is $changelog_version; add a changelog entry for $version" >&2
  exit 65
fi
arch=$(dpkg --print-architecture)
for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || { echo "package-deb.sh: $tool is missing (apt-get install dpkg-dev binutils)" >&2; exit 69; }
done

started=$(date +%s)
echo "building the release binary (static Swift runtime) in $scratch" >&2
# The link lays out the daemon's code by Deploy/link-order.txt (Package.swift), which SwiftPM does not watch:
# a binary older than the list is linked again.
if [ -e "$scratch/release/privatelink-consumer" ] && [ Deploy/link-order.txt -nt "$scratch/release/privatelink-consumer" ]; then
  rm -f "$scratch/release/privatelink-consumer"
fi
swift build -c release --static-swift-stdlib --product privatelink-consumer --scratch-path "$scratch" >&2
binary="$scratch/release/privatelink-consumer"
unstripped_bytes=$(stat -c %s "$binary")

# The manual depends only on the command definitions: swift-argument-parser's generate-manual plugin reads them
# from the debug build (the one the tests use; a release build through the plugin would compile everything
# again with other flags), dated by the changelog's entry so that a rebuild gives the same page.
echo "generating the manual page (swift-argument-parser's generate-manual)" >&2
manual_date=$(date -u -d "$(sed -n 's/^ -- .*>  //p' Deploy/debian/changelog | head -n 1)" +%Y-%m-%d)
swift package generate-manual --configuration debug \
  --authors "Polytomic Engineering" --section 1 --date "$manual_date" >&2
manual_dir=$(find "$root/.build/plugins" -type d -path '*GenerateManual*' -name privatelink-consumer | head -n 1)
[ -n "$manual_dir" ] && [ -f "$manual_dir/privatelink-consumer.1" ] || { echo "package-deb.sh: the manual page was not generated" >&2; exit 70; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/pkg"
doc="$pkg/usr/share/doc/privatelink-consumer"
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/usr/lib/sysusers.d" "$pkg/usr/share/man/man1" \
  "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d" \
  "$doc/examples" "$pkg/usr/share/lintian/overrides"
install -m 0755 "$binary" "$pkg/usr/bin/privatelink-consumer"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/privatelink-consumer"
install -m 0644 Deploy/privatelink-consumer.service Deploy/privatelink-consumer-backup.service Deploy/privatelink-consumer-backup.timer \
  "$pkg/lib/systemd/system/"
install -m 0644 Deploy/sysusers.conf "$pkg/usr/lib/sysusers.d/privatelink-consumer.conf"
for page in "$manual_dir"/*.1; do
  gzip -9n < "$page" > "$pkg/usr/share/man/man1/$(basename "$page").gz"
  chmod 0644 "$pkg/usr/share/man/man1/$(basename "$page").gz"
done
# bash-completion sources the file: no #! line (lintian: bash-completion-with-hashbang).
"$pkg/usr/bin/privatelink-consumer" --generate-completion-script bash | sed '1{/^#!/d}' > "$pkg/usr/share/bash-completion/completions/privatelink-consumer"
"$pkg/usr/bin/privatelink-consumer" --generate-completion-script zsh > "$pkg/usr/share/zsh/vendor-completions/_privatelink-consumer"
"$pkg/usr/bin/privatelink-consumer" --generate-completion-script fish > "$pkg/usr/share/fish/vendor_completions.d/privatelink-consumer.fish"
chmod 0644 "$pkg"/usr/share/*-completion*/completions/* "$pkg"/usr/share/zsh/vendor-completions/* "$pkg"/usr/share/fish/vendor_completions.d/*
install -m 0644 Deploy/debian/copyright "$doc/copyright"
install -m 0644 Deploy/debian/lintian-overrides "$pkg/usr/share/lintian/overrides/privatelink-consumer"
# A native package (no Debian revision): its changelog is changelog.gz.
gzip -9n < Deploy/debian/changelog > "$doc/changelog.gz"
gzip -9n < Deploy/README.md > "$doc/README.Deploy.md.gz"
install -m 0644 config.example.json Deploy/iam-policy.json Deploy/prometheus/alerts.yml "$doc/examples/"
install -m 0644 Deploy/grafana/privatelink-consumer.json "$doc/examples/grafana-dashboard.json"
chmod 0644 "$doc"/*.gz
install -m 0755 Deploy/debian/postinst Deploy/debian/prerm Deploy/debian/postrm "$pkg/DEBIAN/"

# Depends: exactly the shared libraries the binary needs, as dpkg-shlibdeps resolves them to packages.
mkdir -p "$stage/src/debian"
printf 'Source: privatelink-consumer\n\nPackage: privatelink-consumer\nArchitecture: any\n' > "$stage/src/debian/control"
depends=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/bin/privatelink-consumer" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 70; }
installed_kib=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_kib/" -e "s/@DEPENDS@/$depends/" \
  Deploy/debian/control > "$pkg/DEBIAN/control"
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"

mkdir -p dist
deb="$root/dist/privatelink-consumer_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >&2
echo "binary: $unstripped_bytes bytes unstripped, $(stat -c %s "$pkg/usr/bin/privatelink-consumer") stripped; package $(stat -c %s "$deb") bytes, installed ${installed_kib} KiB; built in $(( $(date +%s) - started )) s; Depends: $depends" >&2
echo "$deb"
