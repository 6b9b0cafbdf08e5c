#!/usr/bin/env bash
# Copies the Apache Kafka broker jars named in scripts/kafka/pom.xml from
# Maven Central into .cache/kafka/<version>/libs/ (git ignores .cache/).
# Does nothing when that cache is complete: a marker holding the pom's
# checksum is written last, so an interrupted copy or a changed pom fetches
# again. Prints the libs directory on stdout; progress goes to stderr.
#
#   scripts/kafka/fetch.sh [extra mvn args, e.g. -Dmaven.repo.local=/tmp/m2]
#
# SWITCHBOARD_KAFKA_CACHE overrides the cache root (default <repo>/.cache/kafka).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"
# The one place the version is pinned is the pom.
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
[ -n "$version" ] || { echo "fetch.sh: no <kafka.version> in $pom" >&2; exit 1; }
root="${SWITCHBOARD_KAFKA_CACHE:-$repo/.cache/kafka}"
dir="$root/$version"
libs="$dir/libs"
marker="$dir/.complete"
sum="$(sha256sum "$pom" | cut -d' ' -f1)"

complete() { [ -f "$marker" ] && [ "$(cat "$marker")" = "$sum" ] && [ -d "$libs" ]; }

if complete; then echo "$libs"; exit 0; fi

mkdir -p "$dir"
# Several test threads or binaries may ask at once: one fetches, the others wait.
exec 9>"$dir/.lock"
flock 9
if complete; then echo "$libs"; exit 0; fi

command -v mvn >/dev/null || { echo "fetch.sh: Maven (mvn) is not installed: apt-get install maven" >&2; exit 1; }
echo "fetch.sh: fetching Apache Kafka $version jars from Maven Central into $libs" >&2
tmp="$(mktemp -d "$dir/libs.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# (Debian's Maven 3.8 prints stray colour resets even in batch mode: dropped.)
mvn -B -q -Dstyle.color=never -f "$pom" "$@" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[0m//g' >&2
ls "$tmp"/kafka_2.13-"$version".jar >/dev/null
rm -rf "$libs"
mv "$tmp" "$libs"
trap - EXIT
echo "$sum" >"$marker"
echo "fetch.sh: $(ls "$libs" | wc -l) jars in $libs" >&2
echo "$libs"
