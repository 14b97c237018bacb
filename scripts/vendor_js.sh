#!/usr/bin/env bash
# Copy the dashboards' browser libraries from the npm lockfile into dashboards/static/vendor/.
# Run it after changing package.json; commit the copied files, so `pip install` needs no Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --ignore-scripts --no-audit --no-fund
vendor=dashboards/static/vendor
mkdir -p "$vendor"
cp node_modules/socket.io-client/dist/socket.io.min.js "$vendor/socket.io.min.js"
cp node_modules/socket.io-client/LICENSE "$vendor/socket.io-client.LICENSE"
version=$(node -p "require('./node_modules/socket.io-client/package.json').version")
echo "socket.io-client $version (from package-lock.json)" > "$vendor/VERSIONS"
echo "copied socket.io-client $version to $vendor"
