#!/usr/bin/env bash
# Regenerates docs/samples/kernel-probes6.pcap: what the Linux kernel sends into a ustack TUN
# device over IPv6 when nothing answers: an ICMPv6 echo request, a UDP datagram, a UDP
# datagram larger than the 1280-byte MTU (two fragments, each with a Fragment header), a TCP
# SYN with its retransmissions, and whatever the kernel sends by itself when the device comes
# up (MLD reports behind a Hop-by-Hop header, router solicitations). Needs root; works in a
# network namespace it creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-docs/samples/kernel-probes6.pcap}
cargo build --release -q -p ustack-cli
ns="ustack-sample6-$$"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ./target/release/ustack capture --dev ustk0 --host-addr6 fd00:77::1/64 \
  --mtu 1280 --pcap "$out" --duration 7 &
capture=$!
sleep 1
# The fresh machine has no ping: an echo request through a raw ICMPv6 socket (the kernel
# fills in the checksum), then the datagrams.
ip netns exec "$ns" python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x7573, 1) + b"ustack ping", ("fd00:77::2", 0))
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.sendto(b"hi\n", ("fd00:77::2", 9))
u.sendto(b"x" * 2000, ("fd00:77::2", 9))
PY
ip netns exec "$ns" timeout 4 bash -c 'exec 3<>/dev/tcp/fd00:77::2/80' || true
wait "$capture"
