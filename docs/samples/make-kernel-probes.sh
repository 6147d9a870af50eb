#!/usr/bin/env bash
# Regenerates docs/samples/kernel-probes.pcap: what the Linux kernel sends into a ustack TUN
# device when nothing answers: an ICMP echo request, a UDP datagram, and a TCP SYN with its
# retransmissions. Needs root; works in a network namespace it creates and deletes.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-docs/samples/kernel-probes.pcap}
cargo build --release -q -p ustack-cli
ns="ustack-sample-$$"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ./target/release/ustack capture --dev ustk0 --host-addr 10.77.0.1/24 \
  --pcap "$out" --duration 6 &
capture=$!
sleep 1
# An echo request through a raw socket (the fresh machine has no ping).
ip netns exec "$ns" python3 - <<'PY'
import socket, struct
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
body = struct.pack("!BBHHH", 8, 0, 0, 0x7573, 1) + b"ustack ping"
body = body[:2] + struct.pack("!H", csum(body + b"\0")) + body[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(body, ("10.77.0.2", 0))
PY
ip netns exec "$ns" bash -c 'echo hi > /dev/udp/10.77.0.2/9'
ip netns exec "$ns" timeout 4 bash -c 'exec 3<>/dev/tcp/10.77.0.2/80' || true
wait "$capture"
