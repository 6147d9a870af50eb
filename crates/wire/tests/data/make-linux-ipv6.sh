#!/usr/bin/env bash
# Regenerates crates/wire/tests/data/linux-ipv6.pcap: what the Linux kernel answers to IPv6
# packets written into a TUN device, and what it sends on its own (UDP, fragments, a TCP SYN).
# crates/wire/tests/linux_ipv6.rs checks ustack-wire against it. Needs root and python3; works
# in a network namespace it creates and deletes.
#
# The kernel is fd00::1 on tun t0 (MTU 1500) and fd01::1 on tun t1 (MTU 1280), forwarding on,
# IPv6 reassembly timeout 1 s. The probes come from fd00::2, each with its number as flow label,
# so the quote in an ICMPv6 answer names the probe it answers. The pcap is LINKTYPE_RAW and
# holds the probes, then everything the kernel wrote to either device but multicast (MLD).
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-linux-ipv6.pcap}
ns="ustack-wire-ipv6-$$"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip netns exec "$ns" python3 - "$out" <<'PY'
import fcntl, os, select, socket, struct, subprocess, sys, time

out = sys.argv[1]
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000

def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd

def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

t0, t1 = tun("t0"), tun("t1")
sh("ip", "link", "set", "lo", "up")
sh("ip", "link", "set", "t0", "mtu", "1500", "up")
sh("ip", "link", "set", "t1", "mtu", "1280", "up")
sh("ip", "-6", "addr", "add", "fd00::1/64", "dev", "t0", "nodad")
sh("ip", "-6", "addr", "add", "fd01::1/64", "dev", "t1", "nodad")
sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
sh("sysctl", "-qw", "net.ipv6.ip6frag_time=1")
time.sleep(1)

KERNEL = socket.inet_pton(socket.AF_INET6, "fd00::1")
PEER = socket.inet_pton(socket.AF_INET6, "fd00::2")
FAR = socket.inet_pton(socket.AF_INET6, "fd01::5")
NOWHERE = socket.inet_pton(socket.AF_INET6, "fd02::1")

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def upper(proto, src, dst, body, at):
    """Fills the checksum at byte `at` of an upper-layer header over the IPv6 pseudo-header."""
    pseudo = src + dst + struct.pack("!I3xB", len(body), proto)
    c = csum(pseudo + body) or 0xFFFF
    return body[:at] + struct.pack("!H", c) + body[at + 2:]

def udp(src, dst, dport, data, sport=40000):
    body = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return upper(17, src, dst, body, 6)

def ip6(nh, payload, flow, src=PEER, dst=KERNEL, hlim=64):
    return struct.pack("!IHBB", (6 << 28) | flow, len(payload), nh, hlim) + src + dst + payload

def opts(nh, options):
    """A Hop-by-Hop or Destination Options header holding `options`, padded with PadN."""
    body = bytes([nh, 0]) + options
    pad = -len(body) % 8
    if pad == 1:
        body += b"\0"
    elif pad:
        body += bytes([1, pad - 2]) + bytes(pad - 2)
    return bytes([nh, len(body) // 8 - 1]) + body[2:]

def frag(nh, offset, more, ident):
    return struct.pack("!BBHI", nh, 0, offset | more, ident)

U = lambda data=b"probe": udp(PEER, KERNEL, 9, data)
probes = [
    # 1: echo request.
    (58, upper(58, PEER, KERNEL, struct.pack("!BBHHH", 128, 0, 0, 0x7573, 1) + b"ustack ping6", 2)),
    # 2: UDP to a closed port.
    (17, U()),
    # 3: an upper-layer protocol nobody handles (253, experimentation).
    (253, b"\0" * 8),
    # 4-7: a Destination Options header with one unknown option of action 00, 10, 11, 01.
    (60, opts(17, bytes([0x1E, 2, 0, 0])) + U()),
    (60, opts(17, bytes([0x9E, 2, 0, 0])) + U()),
    (60, opts(17, bytes([0xDE, 2, 0, 0])) + U()),
    (60, opts(17, bytes([0x5E, 2, 0, 0])) + U()),
    # 8: Hop-by-Hop Options after a Destination Options header.
    (60, opts(0, b"") + opts(17, b"") + U()),
    # 9: a type 0 Routing header with Segments Left 1.
    (43, bytes([17, 2, 0, 1, 0, 0, 0, 0]) + FAR + U()),
    # 10: the same with Segments Left 0: skipped.
    (43, bytes([17, 2, 0, 0, 0, 0, 0, 0]) + FAR + U()),
    # 11: a first fragment with M set and 12 bytes of data (not a multiple of 8).
    (44, frag(17, 0, 1, 0x1101) + U(b"abcd")[:12]),
    # 12: a first fragment whose chain stops short: Destination Options, then TCP, no bytes.
    (44, frag(60, 0, 1, 0x1102) + opts(6, b"")),
    # 13: a last fragment at offset 65528 with 16 bytes: past 65,535 once reassembled.
    (44, frag(17, 65528, 0, 0x1103) + b"\0" * 16),
    # 14: an atomic fragment (offset 0, M clear) holding a whole UDP datagram.
    (44, frag(17, 0, 0, 0x1104) + U()),
    # 15: PadN with a non-zero byte.
    (60, bytes([17, 0, 1, 4, 0, 0, 0, 7]) + U()),
    # 16: eight Pad1 in a row.
    (60, bytes([17, 1]) + bytes(8) + bytes([1, 4, 0, 0, 0, 0]) + U()),
    # 17: nine options of action 00 in one header (Linux allows 8).
    (60, opts(17, bytes([0x1E, 0]) * 9) + U()),
    # 18: eight of them.
    (60, opts(17, bytes([0x1E, 0]) * 8) + U()),
    # 19: Hop-by-Hop Options with an unknown option of action 10.
    (0, opts(17, bytes([0x9E, 2, 0, 0])) + U()),
    # 20: Hop-by-Hop Options with Router Alert (RFC 2711), then UDP to a closed port.
    (0, opts(17, bytes([5, 2, 0, 0])) + U()),
    # 24: a first fragment whose other fragments never come: reassembly times out.
    (44, frag(17, 0, 1, 0x1124) + U(b"x" * 24)[:16]),
]
packets = [ip6(nh, payload, n) for n, (nh, payload) in enumerate(probes, 1)]
packets[-1] = ip6(44, probes[-1][1], 24)
# 21-23: packets to forward: one over t1's MTU, one with hop limit 1, one with no route.
big = udp(PEER, FAR, 9, b"B" * 1352)
packets.append(ip6(17, big, 21, dst=FAR))
packets.append(ip6(17, udp(PEER, FAR, 9, b"hop"), 22, dst=FAR, hlim=1))
packets.append(ip6(17, udp(PEER, NOWHERE, 9, b"none"), 23, dst=NOWHERE))
# 25: a TCP SYN to a closed port.
syn = struct.pack("!HHIIBBHHH", 40001, 80, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
packets.append(ip6(6, upper(6, PEER, KERNEL, syn, 16), 25))

records = []

def drain(seconds):
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            return
        ready, _, _ = select.select([t0, t1], [], [], left)
        for fd in ready:
            try:
                p = os.read(fd, 65535)
            except BlockingIOError:
                continue
            if p[0] >> 4 == 6 and p[24] != 0xFF:
                records.append(p)

drain(0.5)
records.clear()
for p in packets:
    records.append(p)
    os.write(t0, p)
    drain(0.2)
# What the kernel sends on its own: a UDP datagram, one that needs fragments, a TCP SYN.
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.sendto(b"from the kernel", ("fd00::2", 9))
s.sendto(bytes(range(256)) * 12, ("fd00::2", 9))
s.close()
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setblocking(False)
try:
    t.connect(("fd00::2", 80))
except BlockingIOError:
    pass
drain(0.5)
t.close()
# The reassembly timeout of probe 24.
drain(2.0)

with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    for i, p in enumerate(records):
        f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(p), len(p)) + p)
print(f"{out}: {len(records)} packets")
PY
