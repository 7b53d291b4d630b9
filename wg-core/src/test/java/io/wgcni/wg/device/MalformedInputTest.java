package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.device.Harness.Node;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.noise.Protocol;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A million generated datagrams (every message type truncated, oversized, retyped, with bad MACs, unknown
 * indexes, bad tags, replays, plain noise) thrown at a device with a live session: each is dropped and counted
 * exactly once, nothing escapes the pipeline, and the tunnel keeps working.
 */
class MalformedInputTest {
    private static final int INPUTS = Integer.getInteger("wgcni.fuzz.inputs", 1_000_000);
    private static final int CHUNK = Math.min(20_000, INPUTS);

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void everyMalformedDatagramIsDroppedAndCounted() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            a.sendTo(b, 1);
            assertNotNull(b.tun.poll(5_000));
            b.sendTo(a, 2);
            assertNotNull(a.tun.poll(5_000));
            h.settle();
            List<byte[]> samples = new ArrayList<>();
            for (MemoryNetwork.Datagram d : h.wire) {
                samples.add(d.bytes());
            }
            assertTrue(samples.size() >= 4, "initiation, response, data both ways");
            h.recordWire = false;

            Stats stats = b.device.stats();
            LongSupplier accounted = () -> stats.receiveDrops() + stats.cookieRepliesSent.sum()
                + stats.rateLimited.sum() + stats.queueFull.sum();
            long base = accounted.getAsLong();
            Random random = new Random(7);
            Endpoint attacker = new Endpoint(IpPackets.ip("10.66.0.1"), 6666);
            int sent = 0;
            while (sent < INPUTS) {
                for (int i = 0; i < CHUNK; i++, sent++) {
                    h.network.inject(mutate(samples.get(random.nextInt(samples.size())), random, i), attacker,
                        b.endpoint());
                }
                long target = base + sent;
                assertTrue(eventuallyLong(() -> accounted.getAsLong() >= target),
                    "every input accounted for: " + (accounted.getAsLong() - base) + " of " + sent + " "
                    + stats.snapshot());
            }
            h.settle();
            assertEquals(INPUTS, accounted.getAsLong() - base, "each input counted exactly once: " + stats.snapshot());
            assertEquals(0, stats.internalErrors.sum(), "nothing threw out of the pipeline");
            assertNotNull(roundTrip(a, b, 3), "the tunnel still works A to B");
            assertNotNull(roundTrip(b, a, 4), "and B to A");
        }
    }

    private static byte[] roundTrip(Node from, Node to, int seq) throws InterruptedException {
        from.sendTo(to, seq);
        return to.tun.poll(5_000);
    }

    private static boolean eventuallyLong(java.util.function.BooleanSupplier c) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (c.getAsBoolean()) {
                return true;
            }
            Thread.sleep(5);
        }
        return c.getAsBoolean();
    }

    /** One of the ways a datagram can be wrong, chosen by {@code i}; the sample itself is a replay. */
    static byte[] mutate(byte[] sample, Random r, int i) {
        byte[] m = sample.clone();
        switch (i % 9) {
            case 0 -> m = java.util.Arrays.copyOf(m, r.nextInt(m.length)); // truncated
            case 1 -> { // oversized
                m = java.util.Arrays.copyOf(m, m.length + 1 + r.nextInt(64));
                if (m[0] == Protocol.TYPE_DATA) {
                    m[m.length - 1] ^= 1; // a longer data message must also fail its tag
                }
            }
            case 2 -> m[0] = (byte) r.nextInt(256); // wrong type
            case 3 -> m[1 + r.nextInt(3)] = (byte) (1 + r.nextInt(255)); // reserved bytes set
            case 4 -> m[4 + r.nextInt(m.length - 4)] ^= (byte) (1 << r.nextInt(8)); // bad MAC, tag or field
            case 5 -> Protocol.putInt(m, m[0] == Protocol.TYPE_RESPONSE ? 8 : 4, r.nextInt()); // unknown index
            case 6 -> { // pure noise
                m = new byte[r.nextInt(200)];
                r.nextBytes(m);
            }
            case 7 -> { // noise behind a valid type word
                m = new byte[new int[] {148, 92, 64, 32 + 16 * r.nextInt(10)}[r.nextInt(4)]];
                r.nextBytes(m);
                Protocol.putInt(m, 0, m.length == 148 ? 1 : m.length == 92 ? 2 : m.length == 64 ? 3 : 4);
            }
            default -> { } // replay as is
        }
        return m;
    }
}
