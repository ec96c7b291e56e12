#!/usr/bin/env bash
# Builds millrace's container images with podman (no Docker engine needed):
#
#   deploy/docker/images.sh build   both images, millrace/ingest-api:dev and
#                                   millrace/uploader:dev (the tags docker-compose.yml
#                                   uses), from deploy/docker/Dockerfile; `make images`
#   deploy/docker/images.sh base    only the base image, debian:bookworm-slim
#   deploy/docker/images.sh sizes   each image's size
#
# The base image is taken from podman's store when present. Where no registry is
# reachable it is made here: `debootstrap --variant=minbase bookworm` from the Debian
# archive this machine's apt uses, with this machine's apt sources, imported under the
# name debian:bookworm-slim (about 30 s; the root file system is cached as a tarball in
# .cache/images/, so a later import takes seconds).
#
# podman runs as root with deploy/docker/containers.conf (runc, cgroupfs, ulimits
# within the machine's: what works without systemd or cgroup delegation) unless
# CONTAINERS_CONF names another file; builds use the host network (apt-get in the
# build stage), and --format docker keeps HEALTHCHECK.
# Environment: IMAGE_TAG (default dev), MILLRACE_CACHE_DIR (default .cache/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE="${MILLRACE_CACHE_DIR:-$ROOT/.cache}/images"
BASE=docker.io/library/debian:bookworm-slim
BASE_TAR="$CACHE/debian-bookworm-minbase.tar"
TAG=${IMAGE_TAG:-dev}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/deploy/docker/containers.conf}"
NAME=images
T0=$(date +%s)

say() { echo "$NAME: $*"; }
die() {
    echo "$NAME: ERROR: $*" >&2
    exit 1
}
pm() { podman "$@"; }

# The first URI of the Debian archive (not -security) in this machine's apt
# sources, in either format (deb822 .sources or one-line .list).
debian_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }
             /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
    done | grep -v -- '-security' | grep -E '/debian/?$' | head -n 1
}

make_base_tar() {
    command -v debootstrap >/dev/null ||
        die "debootstrap is not installed (deploy/local/install-deps.sh --test installs it)"
    local mirror tmp
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || die "no Debian archive found in /etc/apt/sources*"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/millrace-rootfs.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    say "debootstrap --variant=minbase bookworm from $mirror (about 30 s)"
    if ! debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/log" 2>&1; then
        tail -n 20 "$tmp/log" >&2
        die "debootstrap failed"
    fi
    # The same apt sources as this machine (bookworm, -updates, -security), and
    # the slim image's habits: no package lists or caches in the image.
    rm -f "$tmp/rootfs/etc/apt/sources.list"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        cp /etc/apt/sources.list.d/debian.sources "$tmp/rootfs/etc/apt/sources.list.d/"
    else
        echo "deb $mirror bookworm main" >"$tmp/rootfs/etc/apt/sources.list"
    fi
    rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin \
        "$tmp/rootfs/var/cache/apt/archives/"*.deb
    mkdir -p "$CACHE"
    tar --numeric-owner -C "$tmp/rootfs" -cf "$BASE_TAR.part" .
    mv "$BASE_TAR.part" "$BASE_TAR"
    rm -rf "$tmp"
    trap - EXIT
}

do_base() {
    if pm image exists "$BASE"; then
        say "base image $BASE present"
        return 0
    fi
    [ -f "$BASE_TAR" ] || make_base_tar
    say "importing $BASE from ${BASE_TAR#"$ROOT"/}"
    pm import --change 'CMD ["bash"]' "$BASE_TAR" "$BASE" >"$CACHE/import.log" 2>&1 ||
        die "podman import of $BASE_TAR failed"
}

do_build() {
    command -v podman >/dev/null ||
        die "podman is not installed (deploy/local/install-deps.sh --test installs it)"
    do_base
    local target
    for target in ingest-api uploader; do
        say "building millrace/$target:$TAG"
        pm build --format docker --network host --pull=never \
            -f "$ROOT/deploy/docker/Dockerfile" --target "$target" \
            -t "millrace/$target:$TAG" "$ROOT" >"$CACHE/build-$target.log" 2>&1 || {
            tail -n 30 "$CACHE/build-$target.log" >&2
            die "building millrace/$target:$TAG failed (log: ${CACHE#"$ROOT"/}/build-$target.log)"
        }
    done
    do_sizes
    say "built in $(($(date +%s) - T0)) s"
}

do_sizes() {
    local target
    for target in ingest-api uploader; do
        say "millrace/$target:$TAG $(pm image inspect --format '{{.Size}}' "millrace/$target:$TAG" |
            awk '{ printf "%.1f MB", $1 / 1e6 }')"
    done
}

mkdir -p "$CACHE"
case "${1:-}" in
base) do_base ;;
build) do_build ;;
sizes) do_sizes ;;
*)
    echo "usage: $0 {build|base|sizes}" >&2
    exit 2
    ;;
esac
