package io.wgcni.api.node;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.IOException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** {@link Framing} with a protobuf message in each frame: node-manager's side of the CNI socket. */
public final class Frames {
    private Frames() {}

    public static void write(WritableByteChannel channel, MessageLite message) throws IOException {
        Framing.write(channel, message.toByteArray());
    }

    public static <T> T read(ReadableByteChannel channel, Parser<T> parser) throws IOException {
        return parser.parseFrom(Framing.read(channel));
    }
}
