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
    /** Largest IP packet (TUN MTU up to 65535) plus headroom, padding and the AEAD tag. */
    public static final int CAPACITY = HEADROOM + 65535 + 16 + 16;

    public final byte[] buf = new byte[CAPACITY];
    public int offset;
    public int length;
    /** Source on receive from a {@link Bind}; unused elsewhere. */
    public Endpoint endpoint;

    public Packet set(int offset, int length) {
        this.offset = offset;
        this.length = length;
        return this;
    }

    public int end() {
        return offset + length;
    }
}
