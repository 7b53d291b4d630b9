package io.wgcni.api.node;

import com.google.protobuf.InvalidProtocolBufferException;
import io.wgcni.api.fuzz.Fuzzer;
import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Mutated node-socket frames (a length, a CniRequest or CniResponse) read as node-manager and the plugin read
 * them: either a message or an IOException, never anything else, and what is read writes back to a frame that
 * reads as the same message.
 */
class FramesFuzzTest {
    @Test
    void ciRun() throws Exception {
        fuzz(Fuzzer.ci(), 15);
    }

    @Test
    @Tag("nightly")
    void nightlyRun() throws Exception {
        fuzz(Fuzzer.nightly(), System.nanoTime());
    }

    private static void fuzz(Duration budget, long seed) throws Exception {
        Fuzzer.run("frames", Fuzzer.corpus(FramesFuzzTest.class, "frames"), budget, seed, input -> {
            roundTrip(input, CniRequest.parser());
            roundTrip(input, CniResponse.parser());
        });
    }

    private static <T extends com.google.protobuf.MessageLite> void roundTrip(byte[] input,
            com.google.protobuf.Parser<T> parser) throws IOException {
        T message;
        try {
            message = Frames.read(Channels.newChannel(new ByteArrayInputStream(input)), parser);
        } catch (InvalidProtocolBufferException | java.io.EOFException e) {
            return;
        } catch (IOException e) {
            if (!e.getMessage().startsWith("bad frame length")) {
                throw e;
            }
            return;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Frames.write(Channels.newChannel(out), message);
        T again = Frames.read(Channels.newChannel(new ByteArrayInputStream(out.toByteArray())), parser);
        if (!Arrays.equals(again.toByteArray(), message.toByteArray())) {
            throw new AssertionError("a frame does not read back as it was written");
        }
    }
}
