# Builds crater and its default Alpine disk image, and starts a shell in
# a crater container:
#
#   docker build -t crater .
#   docker run --rm -it --privileged crater
#
# crater attaches the image to a loop device, mounts it and creates
# namespaces, which Docker allows only with --privileged.
FROM debian:bookworm-slim

# gcc and musl-tools build the static binary (musl-gcc wraps gcc),
# e2fsprogs provides mkfs.ext4 for mkimage.sh, curl and ca-certificates
# download the Alpine minirootfs, and busybox-static lets mkimage.sh build
# an offline image with --busybox.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        busybox-static \
        ca-certificates \
        curl \
        e2fsprogs \
        gcc \
        make \
        musl-tools \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /crater
COPY . .

# The same steps as in the README: build crater, then the disk image.
# mkfs.ext4 -d writes the image without a loop device, so this step needs
# no privileges.
RUN make
RUN ./mkimage.sh

CMD ["./crater", "run", "/bin/sh"]
