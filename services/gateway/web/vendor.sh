#!/bin/sh
# Copies the browser libraries the page and /docs use out of the npm packages pinned in
# package-lock.json into vendor/, so the gateway serves them itself and needs no network.
# Run it after changing a version in package.json (then commit vendor/ and the lock file).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$build/"
npm ci --prefix "$build" --no-audit --no-fund --ignore-scripts >/dev/null
modules="$build/node_modules"
out="$here/vendor"
rm -rf "$out"
mkdir -p "$out/three/addons/loaders" "$out/three/addons/controls" "$out/three/addons/utils" \
    "$out/swagger-ui"

three="$modules/three"
cp "$three/build/three.module.min.js" "$three/build/three.core.min.js" "$out/three/"
cp "$three/examples/jsm/loaders/GLTFLoader.js" "$out/three/addons/loaders/"
cp "$three/examples/jsm/controls/OrbitControls.js" "$out/three/addons/controls/"
cp "$three/examples/jsm/utils/BufferGeometryUtils.js" "$three/examples/jsm/utils/SkeletonUtils.js" \
    "$out/three/addons/utils/"
cp "$three/LICENSE" "$out/three/LICENSE"
# The addons import the bare name 'three', which needs an import map: an inline script the
# gateway's Content-Security-Policy does not run. Point them at the copied module instead.
for addon in "$out"/three/addons/*/*.js; do
    sed -i "s#from 'three';#from '../../three.module.min.js';#" "$addon"
done

swagger="$modules/swagger-ui-dist"
cp "$swagger/swagger-ui-bundle.js" "$swagger/swagger-ui.css" "$swagger/favicon-32x32.png" \
    "$out/swagger-ui/"
cp "$swagger/LICENSE" "$out/swagger-ui/LICENSE"
[ -f "$swagger/NOTICE" ] && cp "$swagger/NOTICE" "$out/swagger-ui/NOTICE"

node -e '
const fs = require("fs");
const lock = JSON.parse(fs.readFileSync(process.argv[1]));
const lines = ["Copied by vendor.sh from these npm packages:"];
for (const name of ["three", "swagger-ui-dist"]) {
  const p = lock.packages["node_modules/" + name];
  lines.push(`${name} ${p.version} ${p.license || ""} ${p.integrity}`);
}
fs.writeFileSync(process.argv[2], lines.join("\n") + "\n");
' "$here/package-lock.json" "$out/VERSIONS.txt"
echo "vendored into $out:"
cat "$out/VERSIONS.txt"
