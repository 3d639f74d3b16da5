# relayd image, from Debian packages only: a build stage with the toolchain, then
# bookworm-slim with the four runtime libraries.  Build: docker build -t relayd .
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        gcc make clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool libjansson-dev \
        libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make -j"$(nproc)" all \
    && make install PREFIX=/usr SYSCONFDIR=/etc DESTDIR=/out

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libbpf1 libelf1 zlib1g libjansson4 libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/sbin/relayd /usr/sbin/relayd
COPY --from=build /out/usr/bin/relayctl /usr/bin/relayctl
COPY --from=build /out/etc/relayd/relayd.json /etc/relayd/relayd.json
# relayd is PID 1: it blocks its signals and reads them from a signalfd, so
# SIGTERM (drain) and SIGHUP (reload) reach it as they do under systemd
ENTRYPOINT ["/usr/sbin/relayd"]
CMD ["-C", "/etc/relayd/relayd.json"]
