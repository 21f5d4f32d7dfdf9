#!/usr/bin/env bash
# Vendor the page's two fonts (SIL Open Font License) from their Fontsource npm packages:
# Inter (text) and JetBrains Mono (names, masks, IDs). Latin and Latin Extended only; other
# scripts fall back to the system fonts named in app.css.
#
#   scripts/update-fonts.sh
#
# Writes vaultfront/static/vendor/fonts/*.woff2, their licences and a VERSION file.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/vaultfront/static/vendor/fonts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$dest"
: > "$dest/VERSION.new"
for spec in inter:inter jetbrains-mono:jetbrains-mono; do
  package="@fontsource-variable/${spec%%:*}"
  family="${spec##*:}"
  version="$(npm view "$package" version)"
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  mkdir -p "$work/$family"
  tar -xzf "$work"/fontsource-variable-"$family"-"$version".tgz -C "$work/$family"
  for subset in latin latin-ext; do
    file="$family-$subset-wght-normal.woff2"
    cp "$work/$family/package/files/$file" "$dest/$file"
    echo "$package $version $file sha256 $(sha256sum "$dest/$file" | cut -d' ' -f1)" >> "$dest/VERSION.new"
  done
  cp "$work/$family/package/LICENSE" "$dest/LICENSE-$family.txt"
done
mv "$dest/VERSION.new" "$dest/VERSION"
cat "$dest/VERSION" >&2
