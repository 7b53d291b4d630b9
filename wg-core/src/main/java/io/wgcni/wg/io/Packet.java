package io.wgcni.wg.io;

/**
 * One packet buffer. The data plane's single byte idiom: a pooled heap {@code byte[]} (the JDK's
 * ChaCha20-Poly1305 intrinsics work on arrays; direct buffers would add a copy), the bytes in
 * {@code buf[offset, offset + length)}, with {@link #HEADROOM} bytes reserved in front of a TUN packet so that
 * encryption writes the 16-byte data header and the ciphertext in place.
 */
public final class Packet {
    /** Room in front of an IP packet for the data message header (type, receiver, counter). */
    public static final int HEADROOM = 16;
    /** Room behind a packet for padding to 16 bytes and the AEAD tag. */
    public static final int TAILROOM = 32;
    /** Enough for an MTU of 2000; {@link #ensureCapacity} grows a buffer for larger MTUs. */
    public static final int DEFAULT_CAPACITY = 2048;

    public byte[] buf;
    public int offset;
    public int length;
    /** Source on receive from a {@link Bind}; unused elsewhere. */
    public Endpoint endpoint;

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

    public Packet set(int offset, int length) {
        this.offset = offset;
        this.length = length;
        return this;
    }

    public int end() {
        return offset + length;
    }
}
