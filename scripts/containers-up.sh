#!/bin/bash
# Bring up a container engine and the offline test images (docker-mode e2e tests and bench).
# Idempotent: what exists is kept. Needs root for apt/dockerd; without root it only reports.
# Images (all built offline, nothing pulled from a registry):
#   jobagent-test:bookworm  Debian 12 minbase + python3 + python3-venv (debootstrap + docker import)
#   jobagent-test:busybox   busybox only: a shell, no Python, no package manager
#   jobagent-test:nopython  the Debian image without python, with a local apt repo holding it
# Recipe: ../shared/spec/containers.md. Set CONTAINERS_UP=0 to skip it (machines without root).
set -uo pipefail
[ "${CONTAINERS_UP:-1}" = "0" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
IMAGE=${IMAGE:-jobagent-test:bookworm}
BUSYBOX_IMAGE=${BUSYBOX_IMAGE:-jobagent-test:busybox}
ROOTFS=${ROOTFS:-/var/tmp/jobagent-rootfs}
STATE=${STATE:-/run/ci-containers}
t() { echo "containers-up: $*"; }

if [ "$(id -u)" -ne 0 ]; then
    docker info >/dev/null 2>&1 || t "not root and no docker engine: docker-mode tests will be skipped"
    exit 0
fi
mkdir -p "$STATE"

need=""
for p in docker.io debootstrap busybox-static; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    t "installing$need"
    for _ in 1 2 3 4 5; do
        apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $need >/dev/null 2>&1 && break
        sleep 3   # apt may be locked briefly by another installer
    done
fi
command -v dockerd >/dev/null 2>&1 || { t "dockerd not installed: docker-mode tests will be skipped"; exit 0; }

if ! docker info >/dev/null 2>&1; then
    start_dockerd() {
        dockerd "$@" >"$STATE/dockerd.log" 2>&1 &
        echo $! >"$STATE/dockerd.pid"
        for _ in $(seq 1 150); do
            docker info >/dev/null 2>&1 && return 0
            kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || break
            sleep 0.2
        done
        return 1
    }
    t "starting dockerd"
    # a dockerd that died leaves its pid file and containerd socket behind
    rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid 2>/dev/null
    if ! start_dockerd; then
        tail -5 "$STATE/dockerd.log"
        kill "$(cat "$STATE/dockerd.pid")" 2>/dev/null; sleep 1
        t "retry: vfs storage, no bridge/iptables"
        start_dockerd --storage-driver=vfs --iptables=false --bridge=none || {
            t "dockerd does not start: docker-mode tests will be skipped"; exit 0; }
    fi
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    if [ ! -x "$ROOTFS/usr/bin/python3" ] || [ ! -f "$ROOTFS/usr/lib/python3.11/venv/__init__.py" ]; then
        MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        [ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
        [ -n "$MIRROR" ] || { t "no Debian mirror configured for apt"; exit 0; }
        t "debootstrap $IMAGE (about a minute)"
        rm -rf "$ROOTFS"
        debootstrap --variant=minbase --include=python3,python3-venv bookworm "$ROOTFS" "$MIRROR" \
            >"$STATE/debootstrap.log" 2>&1 || { tail -20 "$STATE/debootstrap.log"; exit 0; }
    fi
    t "importing $IMAGE"
    tar -C "$ROOTFS" -c --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
        --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' . \
        | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
fi

if ! docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1 && [ -x /bin/busybox ]; then
    t "building $BUSYBOX_IMAGE"
    bb=$(mktemp -d)
    mkdir -p "$bb/bin" "$bb/tmp" "$bb/root" "$bb/etc"
    cp /bin/busybox "$bb/bin/"
    for a in sh echo sleep cat env ls true false id; do ln -s busybox "$bb/bin/$a"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$bb/etc/passwd"
    tar -C "$bb" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$BUSYBOX_IMAGE" >/dev/null
    rm -rf "$bb"
fi
# An image with apt but no python, and the python .debs debootstrap downloaded as a local
# (file:) apt repository inside it: the runner's "install a python with the image's package
# manager" path, tested offline.
NOPY_IMAGE=${NOPY_IMAGE:-jobagent-test:nopython}
if ! docker image inspect "$NOPY_IMAGE" >/dev/null 2>&1 && ls "$ROOTFS"/var/cache/apt/archives/python3_*.deb >/dev/null 2>&1 \
   && command -v dpkg-scanpackages >/dev/null 2>&1; then
    t "building $NOPY_IMAGE"
    ctx=$(mktemp -d)
    mkdir -p "$ctx/debs"
    cp "$ROOTFS"/var/cache/apt/archives/*python3*.deb "$ctx/debs/"
    (cd "$ctx/debs" && dpkg-scanpackages -m . >Packages 2>/dev/null)
    pkgs=$(for f in "$ctx"/debs/*.deb; do dpkg-deb -f "$f" Package; done | tr '\n' ' ')
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $IMAGE
RUN dpkg --purge --force-all $pkgs >/dev/null 2>&1; rm -rf /usr/lib/python3* /usr/bin/python3*; ! command -v python3
COPY debs /opt/debs
RUN echo 'deb [trusted=yes] file:/opt/debs ./' >/etc/apt/sources.list
DOCKERFILE
    docker build -q -t "$NOPY_IMAGE" "$ctx" >/dev/null 2>"$STATE/nopython-build.log" || t "could not build $NOPY_IMAGE"
    rm -rf "$ctx"
fi
# podman, the second engine: Debian's default runtime, crun, refuses a hybrid cgroup v1/v2
# hierarchy ("cgroups in hybrid mode not supported"), which is what this kind of VM has; runc
# runs there. Say so in podman's own config, only when there is none and crun is what fails.
if command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 \
   && [ ! -e /etc/containers/containers.conf ] && [ -d /sys/fs/cgroup/unified ]; then
    t "podman: runc as the OCI runtime (crun does not support this hybrid cgroup layout)"
    printf '[engine]\nruntime = "runc"\n' >/etc/containers/containers.conf
fi
docker info --format 'containers-up: docker {{.ServerVersion}} storage={{.Driver}}' 2>/dev/null
exit 0
