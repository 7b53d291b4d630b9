package io.wgcni.wg.device;

import java.net.InetAddress;
import java.nio.ByteBuffer;

/** Builds minimal IPv4 and IPv6 packets (UDP-numbered, unchecked payload) for data-plane tests. */
final class IpPackets {
    private IpPackets() {}

    static byte[] packet(InetAddress src, InetAddress dst, int seq, int payloadLength) {
        byte[] s = src.getAddress();
        byte[] d = dst.getAddress();
        int header = s.length == 4 ? 20 : 40;
        int total = header + Math.max(4, payloadLength);
        ByteBuffer b = ByteBuffer.allocate(total);
        if (s.length == 4) {
            b.put((byte) 0x45).put((byte) 0).putShort((short) total).putInt(0).put((byte) 64).put((byte) 17)
                .putShort((short) 0).put(s).put(d);
        } else {
            b.putInt(0x60000000).putShort((short) (total - 40)).put((byte) 17).put((byte) 64).put(s).put(d);
        }
        b.putInt(seq);
        return b.array();
    }

    static int seq(byte[] packet) {
        int header = (packet[0] & 0xf0) == 0x40 ? 20 : 40;
        return ByteBuffer.wrap(packet, header, 4).getInt();
    }

    static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
