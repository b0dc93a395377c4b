#!/usr/bin/env bash
# Fetches libgpiod 2.x (Debian bookworm-backports: the C library, its C++ bindings and headers)
# into a private folder, so berrykit can be built against the 2.x API beside the system's 1.6.
# The system's apt sources, package lists and installed libgpiod are not touched: apt runs with a
# private configuration whose only source is bookworm-backports, and the .debs are unpacked with
# `dpkg -x`, not installed. Safe to run again: a folder fetched before is used as it is.
#   BERRYKIT_LIBGPIOD2_DIR      where to unpack (default: /var/cache/berrykit-libgpiod2)
#   BERRYKIT_LIBGPIOD2_VERSION  the package version (default: 2.1.3-1~bpo12+1)
#   BERRYKIT_DEBIAN_MIRROR      the Debian mirror (default: the one the system's apt sources name)
# Prints the folder; PKG_CONFIG_PATH=<folder>/usr/lib/<multiarch>/pkgconfig finds libgpiod 2.x.
set -euo pipefail

dir=${BERRYKIT_LIBGPIOD2_DIR:-/var/cache/berrykit-libgpiod2}
version=${BERRYKIT_LIBGPIOD2_VERSION:-2.1.3-1~bpo12+1}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
pcdir="$dir/usr/lib/$multiarch/pkgconfig"
# Debian's libgpiod 2.1.3 packages: libgpiod3 holds both libgpiod.so.3 and the C++ bindings'
# libgpiodcxx.so.2; libgpiod-dev the headers (gpiod.h, gpiod.hpp, gpiodcxx/), .so links and .pc files.
packages=(libgpiod3 libgpiod-dev)

if [ -f "$dir/.fetched" ] && [ "$(cat "$dir/.fetched")" = "$version" ]; then
  echo "$dir"
  exit 0
fi

parent=$(dirname "$dir")
mkdir -p "$parent" 2>/dev/null || true
if [ ! -w "$parent" ]; then
  echo "fetch-libgpiod2: cannot write in $parent: run as root, or set BERRYKIT_LIBGPIOD2_DIR to a folder of yours" >&2
  exit 1
fi

# The Debian mirror the system already uses (deb822 .sources or one-line .list), so this works
# behind the same proxy or local mirror as apt itself.
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      /^[[:space:]]*$/ { if (uris != "" && suites ~ /(^| )bookworm( |$)/) { print uris; exit } uris = ""; suites = "" }
      /^URIs:/ { uris = $2 }
      /^Suites:/ { $1 = ""; suites = $0 " " }
      END { if (uris != "" && suites ~ /(^| )bookworm( |$)/) print uris }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i + 1) == "bookworm") print $i; break } }' "$f"
  done
}
mirror=${BERRYKIT_DEBIAN_MIRROR:-$(find_mirror | head -n 1)}
if [ -z "$mirror" ]; then
  echo "fetch-libgpiod2: no Debian bookworm mirror in /etc/apt/sources*: set BERRYKIT_DEBIAN_MIRROR" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-backports main" \
  >"$work/sources.list"
apt_private=(
  -o "Dir::Etc::sourcelist=$work/sources.list"
  -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "Dir::Cache::archives=$work/cache/archives"
  -o APT::Get::List-Cleanup=0
)
# As root apt downloads as the _apt user, who cannot write into a private mktemp folder.
[ "$(id -u)" -ne 0 ] || apt_private+=(-o APT::Sandbox::User=root)
echo "fetch-libgpiod2: libgpiod $version from $mirror bookworm-backports" >&2
apt-get "${apt_private[@]}" -qq update >&2
(cd "$work/debs" && apt-get "${apt_private[@]}" -qq download "${packages[@]/%/=$version}" >&2)

# Unpack into a fresh folder and move it into place only when complete, so an interrupted run
# never leaves a half-filled folder that looks fetched.
staging="$dir.partial.$$"
rm -rf "$staging"
mkdir -p "$staging"
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$staging"; done
# The .pc files say prefix=/usr; point them at the private folder. The -dev package's .so links
# are relative (libgpiod.so -> libgpiod.so.3.x), so they stay inside it.
for pc in "$staging/usr/lib/$multiarch/pkgconfig"/*.pc; do
  sed -i "s|^prefix=.*|prefix=$dir/usr|" "$pc"
done
echo "$version" >"$staging/.fetched"
rm -rf "$dir"
mv "$staging" "$dir"
echo "$dir"
