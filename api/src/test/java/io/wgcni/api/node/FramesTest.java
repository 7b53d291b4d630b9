package io.wgcni.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.CniRequest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import org.junit.jupiter.api.Test;

class FramesTest {
    @Test
    void roundTrips() throws IOException {
        CniRequest request = CniRequest.newBuilder()
                .setAttach(AttachRequest.newBuilder()
                        .setContainerId("abc").setNetns("/var/run/netns/x").setIfname("eth0"))
                .build();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Frames.write(Channels.newChannel(out), request);
        byte[] bytes = out.toByteArray();
        assertEquals(request.getSerializedSize(), ByteBuffer.wrap(bytes).getInt());
        assertEquals(request, Frames.read(Channels.newChannel(new ByteArrayInputStream(bytes)), CniRequest.parser()));
    }

    @Test
    void refusesOversizedAndTruncatedFrames() {
        byte[] huge = ByteBuffer.allocate(4).putInt(Framing.MAX_FRAME + 1).array();
        IOException e = assertThrows(IOException.class,
                () -> Frames.read(Channels.newChannel(new ByteArrayInputStream(huge)), CniRequest.parser()));
        assertEquals("bad frame length " + (Framing.MAX_FRAME + 1), e.getMessage());
        byte[] truncated = ByteBuffer.allocate(6).putInt(10).array();
        assertThrows(EOFException.class,
                () -> Frames.read(Channels.newChannel(new ByteArrayInputStream(truncated)), CniRequest.parser()));
    }
}
