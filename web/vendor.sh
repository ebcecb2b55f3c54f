#!/usr/bin/env bash
# Refreshes the browser libraries committed under the service's static/vendor/.
# The service serves these files itself, so running Pace never needs npm or a CDN;
# only whoever bumps a version in package.json runs this (then commits the result):
#   cd web && npm install && bash vendor.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/../services/websockets/src/pace_websockets/static/vendor"
modules="$here/node_modules"
[[ -d "$modules/leaflet" ]] || { echo "run 'npm install' in web/ first" >&2; exit 1; }

rm -rf "$dest/leaflet" "$dest/qrcode-generator"
mkdir -p "$dest/leaflet/images" "$dest/qrcode-generator"

cp "$modules/leaflet/dist/leaflet.js" "$modules/leaflet/dist/leaflet.css" "$dest/leaflet/"
cp "$modules/leaflet/dist/images/"*.png "$dest/leaflet/images/"
cp "$modules/leaflet/LICENSE" "$dest/leaflet/LICENSE"

# qrcode-generator ships no LICENSE file; its MIT notice is the header of qrcode.js,
# which is copied whole, and the package.json records the licence and version.
cp "$modules/qrcode-generator/qrcode.js" "$dest/qrcode-generator/"
cp "$modules/qrcode-generator/package.json" "$dest/qrcode-generator/"
head -16 "$modules/qrcode-generator/qrcode.js" > "$dest/qrcode-generator/LICENSE"

node -e '
  for (const p of ["leaflet", "qrcode-generator"]) {
    const v = require(process.argv[1] + "/" + p + "/package.json").version;
    console.log(p + " " + v);
  }' "$modules" > "$dest/VERSIONS"
echo "vendored into $dest:"; cat "$dest/VERSIONS"
