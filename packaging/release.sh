#!/usr/bin/env bash
# Builds the release archives of mcasload: linux/amd64 and linux/arm64 (cgo cross-compiled with
# Debian's gcc-aarch64-linux-gnu against the prebuilt DuckDB of duckdb-go-bindings), each with
# LICENSE, THIRD_PARTY_NOTICES for that platform, the README, the install and connection guides
# and the contrib files (systemd units, cron example, container build file); then SHA256SUMS.
# `make release` runs it and then the release test (packaging/release_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
BUILD_DATE=${BUILD_DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
DIST=${DIST:-dist}
ARCHES=${ARCHES:-amd64 arm64}
# Archive members get the commit's time, so two builds of one commit differ only in the binary.
MTIME=@$(git log -1 --format=%ct 2>/dev/null || date +%s)

export GOFLAGS='-tags=duckdb_arrow -buildvcs=false' CGO_ENABLED=1
rm -rf "$DIST"
mkdir -p "$DIST"
for arch in $ARCHES; do
  case $arch in
    amd64) cc=${CC_AMD64:-x86_64-linux-gnu-gcc}; command -v "$cc" >/dev/null || cc=gcc ;;
    arm64) cc=${CC_ARM64:-aarch64-linux-gnu-gcc} ;;
    *) echo "release: unknown architecture $arch" >&2; exit 2 ;;
  esac
  if [ "$arch" = arm64 ] && { ! command -v "$cc" >/dev/null || [ "$("$cc" -print-file-name=libstdc++.so)" = libstdc++.so ]; }; then
    # DuckDB is C++: the cross linker needs the arm64 libstdc++ as well as the compiler.
    pkgs="gcc-aarch64-linux-gnu libstdc++-12-dev-arm64-cross"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "release: installing $pkgs"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs
    else
      echo "release: the arm64 cross toolchain is missing: sudo apt-get install $pkgs" >&2
      exit 1
    fi
  fi
  name=mcasload-$VERSION-linux-$arch
  dir=$DIST/$name
  mkdir -p "$dir/docs" "$dir/contrib/systemd" "$dir/contrib/cron"
  echo "release: building $name with $cc"
  GOOS=linux GOARCH=$arch CC=$cc go build -trimpath \
    -ldflags "-s -w -extldflags=-Wl,--exclude-libs,ALL -X main.version=$VERSION -X main.commit=$COMMIT -X main.buildDate=$BUILD_DATE" \
    -o "$dir/mcasload" ./cmd/mcasload
  go run ./tools/notices -goos linux -goarch "$arch" -o "$dir/THIRD_PARTY_NOTICES"
  cp LICENSE README.md "$dir/"
  cp docs/install.md docs/connection.md "$dir/docs/"
  cp contrib/systemd/* "$dir/contrib/systemd/"
  cp contrib/cron/* "$dir/contrib/cron/"
  cp contrib/Containerfile "$dir/contrib/"
  tar -C "$DIST" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$MTIME" -czf "$DIST/$name.tar.gz" "$name"
  rm -rf "$dir"
done
(cd "$DIST" && sha256sum mcasload-*.tar.gz > SHA256SUMS)
echo "release: $(cd "$DIST" && ls)"
