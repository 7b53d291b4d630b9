package io.wgcni.api.node;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The CNI socket's framing (node.proto): a 4-byte big-endian length, then that many bytes of one protobuf
 * message. Plain JDK channels, so that the plugin carries no gRPC or Netty.
 */
public final class Frames {
    /** Larger frames are refused: no CNI message comes near it. */
    public static final int MAX_FRAME = 1 << 20;

    private Frames() {}

    public static void write(WritableByteChannel channel, MessageLite message) throws IOException {
        byte[] body = message.toByteArray();
        if (body.length > MAX_FRAME) {
            throw new IOException("frame of " + body.length + " bytes exceeds " + MAX_FRAME);
        }
        ByteBuffer buffer = ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    public static <T> T read(ReadableByteChannel channel, Parser<T> parser) throws IOException {
        ByteBuffer header = readFully(channel, ByteBuffer.allocate(4));
        int length = header.getInt(0);
        if (length < 0 || length > MAX_FRAME) {
            throw new IOException("bad frame length " + Integer.toUnsignedString(length));
        }
        ByteBuffer body = readFully(channel, ByteBuffer.allocate(length));
        return parser.parseFrom(body.array());
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
