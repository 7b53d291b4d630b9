package io.wgcni.api.node;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The CNI socket's framing (node.proto): a 4-byte big-endian length, then that many bytes of one message. The JDK
 * only, so that the plugin, which encodes node.proto by hand, frames with the same code as node-manager ({@link
 * Frames} is this with protobuf on either side).
 */
public final class Framing {
    /** Larger frames are refused: no CNI message comes near it. */
    public static final int MAX_FRAME = 1 << 20;

    private Framing() {}

    public static void write(WritableByteChannel channel, byte[] body) throws IOException {
        if (body.length > MAX_FRAME) {
            throw new IOException("frame of " + body.length + " bytes exceeds " + MAX_FRAME);
        }
        ByteBuffer buffer = ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    public static byte[] read(ReadableByteChannel channel) throws IOException {
        int length = readFully(channel, ByteBuffer.allocate(4)).getInt(0);
        if (length < 0 || length > MAX_FRAME) {
            throw new IOException("bad frame length " + Integer.toUnsignedString(length));
        }
        return readFully(channel, ByteBuffer.allocate(length)).array();
    }

    private static ByteBuffer readFully(ReadableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException("connection closed after " + buffer.position() + " of "
                        + buffer.capacity() + " bytes");
            }
        }
        return buffer;
    }
}
