#!/usr/bin/env bash
# Vendor AG Grid Community's standalone UMD bundle (without the legacy CSS) into the package.
#
#   scripts/update-ag-grid.sh            # newest 36.x
#   scripts/update-ag-grid.sh 36.2.0     # an exact version
#
# Needs npm (only to download the tarball from the registry: nothing is installed).
# Writes vaultfront/static/vendor/ag-grid/{ag-grid-community.min.noStyle.js,LICENSE.txt,VERSION}.
# The page never loads anything from a CDN: these files ship in the wheel.
set -euo pipefail

spec="${1:-36}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/vaultfront/static/vendor/ag-grid"
bundle="ag-grid-community.min.noStyle.js"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

version="$(npm view "ag-grid-community@$spec" version --json | python3 -c '
import json, sys
v = json.load(sys.stdin)
v = v if isinstance(v, list) else [v]
print(sorted(v, key=lambda s: tuple(int(p) for p in s.split(".")))[-1])
')"
case "$version" in
  36.*) ;;
  *) echo "refusing ag-grid-community $version: the page is written for 36.x" >&2; exit 1 ;;
esac

(cd "$work" && npm pack --silent "ag-grid-community@$version" >/dev/null)
tar -xzf "$work/ag-grid-community-$version.tgz" -C "$work"
if [ ! -f "$work/package/dist/$bundle" ]; then
  echo "dist/$bundle is not in ag-grid-community $version; see its dist/ folder:" >&2
  ls "$work/package/dist" >&2
  exit 1
fi

mkdir -p "$dest"
cp "$work/package/dist/$bundle" "$dest/$bundle"
cp "$work/package/LICENSE.txt" "$dest/LICENSE.txt"
sha="$(sha256sum "$dest/$bundle" | cut -d' ' -f1)"
cat > "$dest/VERSION" <<VERSION
ag-grid-community $version
file $bundle
sha256 $sha
source npm package ag-grid-community@$version, dist/$bundle
VERSION
echo "vendored ag-grid-community $version ($bundle, sha256 $sha)" >&2
