package io.wgcni.wg.io;

/**
 * One packet buffer. The data plane's single byte idiom: a heap {@code byte[]} (the JDK's ChaCha20-Poly1305
 * intrinsics work on arrays; direct buffers would add a copy), the bytes in {@code buf[offset, offset + length)},
 * with {@link #HEADROOM} bytes reserved in front of a TUN packet so that encryption writes the 16-byte data header
 * and the ciphertext in place.
 *
 * <p>A packet from or to a TUN with offloads may be a <em>superpacket</em>: one TCP or UDP header over up to 64 KiB
 * of payload that stands for {@code ceil(payload / gsoSize)} packets ({@link #gso} not {@link #GSO_NONE}), and its
 * transport checksum may be left for someone else to finish ({@link #partialChecksum}: the checksum field then holds
 * the pseudo-header's sum only). These are the kernel's segmentation offload semantics ({@code virtio_net_hdr}),
 * named here without Linux: wg-core splits superpackets before sealing them for the wire and coalesces what it
 * opened into superpackets again ({@link io.wgcni.wg.ip.Segmenter}, {@link io.wgcni.wg.ip.Coalescer}).
 */
public final class Packet {
    /** Room in front of an IP packet for the data message header (type, receiver, counter). */
    public static final int HEADROOM = 16;
    /** Room behind a packet for padding to 16 bytes and the AEAD tag. */
    public static final int TAILROOM = 32;
    /** Enough for an MTU of 2000; {@link #ensureCapacity} grows a buffer for larger MTUs. */
    public static final int DEFAULT_CAPACITY = 2048;
    /** The largest IP packet, and so the largest superpacket. */
    public static final int MAX_IP_PACKET = 65535;
    /** Enough for a superpacket, with room around it. */
    public static final int SUPER_CAPACITY = HEADROOM + MAX_IP_PACKET + TAILROOM;

    /** A plain packet. */
    public static final int GSO_NONE = 0;
    /** TCP over IPv4, split at {@link #gsoSize} bytes of payload. */
    public static final int GSO_TCP4 = 1;
    /** TCP over IPv6. */
    public static final int GSO_TCP6 = 2;
    /** UDP over either (the kernel's UDP_L4), each segment a datagram of {@link #gsoSize} payload bytes. */
    public static final int GSO_UDP = 3;

    public byte[] buf;
    public int offset;
    public int length;
    /** Source on receive from a {@link Bind}; unused elsewhere. */
    public Endpoint endpoint;
    /** {@link #GSO_NONE} or the kind of superpacket. */
    public int gso;
    /** Payload bytes per segment of a superpacket. */
    public int gsoSize;
    /** The transport checksum is not finished: the field at {@link #checksumStart} + {@link #checksumOffset}. */
    public boolean partialChecksum;
    /** Where the checksummed transport header starts, from {@link #offset} (the IP header's length). */
    public int checksumStart;
    /** Where the checksum field is, from {@link #checksumStart} (16 for TCP, 6 for UDP). */
    public int checksumOffset;

    public Packet() {
        this(new byte[DEFAULT_CAPACITY]);
    }

    /** Wraps {@code buf} (a handshake message, say) without copying. */
    public Packet(byte[] buf) {
        this.buf = buf;
        this.length = buf.length;
    }

    /** Makes the buffer at least {@code capacity} bytes long, keeping its contents. */
    public void ensureCapacity(int capacity) {
        if (buf.length < capacity) {
            buf = java.util.Arrays.copyOf(buf, capacity);
        }
    }

    /** Places the packet at {@code buf[offset, offset + length)} as a plain packet with a finished checksum. */
    public Packet set(int offset, int length) {
        this.offset = offset;
        this.length = length;
        this.gso = GSO_NONE;
        this.gsoSize = 0;
        this.partialChecksum = false;
        return this;
    }

    /** Marks the packet as a superpacket of {@code kind} cut every {@code segmentPayload} bytes. */
    public Packet setGso(int kind, int segmentPayload) {
        this.gso = kind;
        this.gsoSize = segmentPayload;
        return this;
    }

    /** Marks the transport checksum as unfinished, its field at {@code start + fieldOffset} from {@link #offset}. */
    public Packet setPartialChecksum(int start, int fieldOffset) {
        this.partialChecksum = true;
        this.checksumStart = start;
        this.checksumOffset = fieldOffset;
        return this;
    }

    public int end() {
        return offset + length;
    }

    /** Copies {@code from}'s bytes (to the same offset) and metadata into this packet, growing it if needed. */
    public void copyFrom(Packet from) {
        ensureCapacity(from.offset + from.length + TAILROOM);
        System.arraycopy(from.buf, from.offset, buf, from.offset, from.length);
        offset = from.offset;
        length = from.length;
        endpoint = from.endpoint;
        gso = from.gso;
        gsoSize = from.gsoSize;
        partialChecksum = from.partialChecksum;
        checksumStart = from.checksumStart;
        checksumOffset = from.checksumOffset;
    }
}
