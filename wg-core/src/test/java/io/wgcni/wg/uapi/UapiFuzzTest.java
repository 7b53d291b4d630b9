package io.wgcni.wg.uapi;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.api.fuzz.Fuzzer;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.time.ManualClock;
import java.io.BufferedReader;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Mutated UAPI requests against a live device: serve never throws, every answer is {@code errno=N} (or a get's
 * body before it), a refused set changes nothing, and the device never exceeds its limits.
 */
class UapiFuzzTest {
    private static final Pattern LINE = Pattern.compile("[a-z0-9_]+=[^\\n]*");
    private static final Pattern ERRNO = Pattern.compile("errno=\\d+");

    /** Blocks of key=value lines, each closed by errno=N and a blank line (a get's body, or nothing, before it). */
    private static boolean isAnswer(String answer) {
        if (answer.isEmpty()) {
            return true;
        }
        if (!answer.endsWith("\n\n")) {
            return false;
        }
        for (String block : answer.substring(0, answer.length() - 2).split("\n\n", -1)) {
            String[] lines = block.split("\n", -1);
            if (!ERRNO.matcher(lines[lines.length - 1]).matches()) {
                return false;
            }
            for (int i = 0; i < lines.length - 1; i++) {
                if (!LINE.matcher(lines[i]).matches()) {
                    return false;
                }
            }
        }
        return true;
    }

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
        MemoryNetwork network = new MemoryNetwork();
        try (Device device = new Device("wgfuzz", new MemoryTun("wgfuzz", 1420),
                network.newBind(InetAddress.getByName("10.0.0.1")), new ManualClock(), 1)) {
            device.up();
            device.setPrivateKey(X25519.generatePrivateKey());
            List<byte[]> seeds = Fuzzer.corpus(UapiFuzzTest.class, "uapi");
            Fuzzer.run("uapi", seeds, budget, seed, input -> {
                String before = Uapi.get(device);
                StringWriter out = new StringWriter();
                String request = new String(input, StandardCharsets.UTF_8);
                Uapi.serve(device, new BufferedReader(new StringReader(request)), out);
                String answer = out.toString();
                if (!isAnswer(answer)) {
                    throw new AssertionError("not a UAPI answer: " + Uapi.quote(answer));
                }
                // A single refused set (nothing else in the request) must leave the device as it was.
                if (request.startsWith("set=1\n") && request.indexOf("\n\n") == request.length() - 2
                        && !answer.equals("errno=0\n\n") && !Uapi.get(device).equals(before)) {
                    throw new AssertionError("a refused set changed the device: " + answer.strip());
                }
                if (device.peers().size() > Device.MAX_PEERS) {
                    throw new AssertionError(device.peers().size() + " peers");
                }
            });
            Key k = device.identity() == null ? null : device.identity().publicKey();
            assertTrue(k == null || device.peer(k) == null, "never a peer with the device's own key");
        }
    }
}
