#!/usr/bin/env bash
# Copy the browser libraries (dashboards, API docs page) from the npm lockfile into dashboards/static/vendor/.
# Run it after changing package.json; commit the copied files, so `pip install` needs no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --ignore-scripts --no-audit --no-fund
vendor=dashboards/static/vendor
mkdir -p "$vendor"
cp node_modules/socket.io-client/dist/socket.io.min.js "$vendor/socket.io.min.js"
cp node_modules/socket.io-client/LICENSE "$vendor/socket.io-client.LICENSE"
mkdir -p "$vendor/swagger-ui"
for file in swagger-ui-bundle.js swagger-ui-standalone-preset.js swagger-ui.css LICENSE; do
    cp "node_modules/swagger-ui-dist/$file" "$vendor/swagger-ui/$file"
done
: > "$vendor/VERSIONS"
for package in socket.io-client swagger-ui-dist; do
    version=$(node -p "require('./node_modules/$package/package.json').version")
    echo "$package $version (from package-lock.json)" >> "$vendor/VERSIONS"
    echo "copied $package $version to $vendor"
done
