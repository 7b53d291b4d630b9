package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.device.Harness.Node;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.noise.Protocol;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * 100,000 packets through a network that loses, duplicates and reorders datagrams: every packet whose
 * datagram got through arrives exactly once, and nothing else arrives.
 */
class LossyTransferTest {
    private static final int PACKETS = 100_000;
    private static final int CHUNK = 500;

    /** Drops 5%, duplicates 5%, holds back 10% for up to 40 later datagrams (well inside the 8128 window). */
    private static final class BadLink implements MemoryNetwork.Conditioner {
        final Random random = new Random(42);
        final ArrayDeque<MemoryNetwork.Datagram> held = new ArrayDeque<>();
        final Set<Long> deliveredCounters = new HashSet<>();
        int sinceRelease;
        int transmitted;

        @Override
        public synchronized void transmit(MemoryNetwork.Datagram d, MemoryNetwork.Link link) {
            boolean data = d.bytes().length > Protocol.Data.MIN_SIZE && d.bytes()[0] == Protocol.TYPE_DATA;
            if (!data) {
                link.deliver(d); // handshakes and keepalives pass untouched
                return;
            }
            transmitted++;
            double r = random.nextDouble();
            if (r < 0.05) {
                return;
            }
            if (r < 0.10) {
                deliver(d, link);
                deliver(d, link);
            } else if (r < 0.20) {
                held.add(d);
            } else {
                deliver(d, link);
            }
            if (++sinceRelease >= 1 + random.nextInt(40) && !held.isEmpty()) {
                sinceRelease = 0;
                deliver(held.poll(), link);
            }
        }

        synchronized void flush(MemoryNetwork.Link link) {
            while (!held.isEmpty()) {
                deliver(held.poll(), link);
            }
        }

        private void deliver(MemoryNetwork.Datagram d, MemoryNetwork.Link link) {
            deliveredCounters.add(Protocol.getLong(d.bytes(), Protocol.Data.COUNTER));
            link.deliver(d);
        }

        synchronized int transmitted() {
            return transmitted;
        }

        synchronized int delivered() {
            return deliveredCounters.size();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void everyPacketNotLostArrivesOnce() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            a.sendTo(b, -1);
            assertTrue(b.tun.poll(5_000) != null, "handshake");
            BadLink link = new BadLink();
            MemoryNetwork.Link direct = d -> h.network.inject(d.bytes(), d.from(), d.to());
            h.conditioner = link;

            BitSet seen = new BitSet(PACKETS);
            int received = 0;
            int duplicates = 0;
            for (int start = 0; start < PACKETS; start += CHUNK) {
                for (int seq = start; seq < start + CHUNK; seq++) {
                    a.sendTo(b, seq);
                }
                // Wait for this chunk's datagrams to be on the wire before sending more: no queue overflows.
                int target = start + CHUNK;
                assertTrue(Harness.eventually(() -> link.transmitted() >= target), "chunk on the wire");
                if (start + CHUNK >= PACKETS) {
                    h.conditioner = null;
                    link.flush(direct);
                }
                for (byte[] p; (p = b.tun.poll(start + CHUNK >= PACKETS ? 500 : 1)) != null; ) {
                    int seq = IpPackets.seq(p);
                    if (seen.get(seq)) {
                        duplicates++;
                    }
                    seen.set(seq);
                    received++;
                }
            }
            for (byte[] p; (p = b.tun.poll(1_000)) != null; ) {
                int seq = IpPackets.seq(p);
                duplicates += seen.get(seq) ? 1 : 0;
                seen.set(seq);
                received++;
            }
            assertEquals(0, duplicates, "no packet delivered twice");
            assertEquals(link.delivered(), received, "every datagram that got through became exactly one packet");
            assertTrue(received > PACKETS * 0.9 && received < PACKETS, "about 5% lost: " + received);
            assertEquals(0, b.device.stats().queueFull.sum() + a.device.stats().queueFull.sum());
            assertTrue(b.device.stats().replayed.sum() > 0, "duplicates were caught by the replay window");
            assertFalse(seen.get(PACKETS));
        }
    }
}
