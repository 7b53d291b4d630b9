package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.device.Harness.Node;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.noise.Protocol;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Whoever knows a session's receiver index (it travels in clear) can send data messages of any length. They must
 * cost nothing that lasts: too long for the MTU, they are dropped before being copied into the data path, and no
 * buffer grows for them.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OversizedFloodTest {

    private static byte[] dataMessage(int receiverIndex, int length) {
        byte[] m = new byte[length];
        Protocol.putInt(m, 0, Protocol.TYPE_DATA);
        Protocol.putInt(m, Protocol.Data.RECEIVER, receiverIndex);
        return m;
    }

    private static long usedHeapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Test
    void aFloodOfHugeDataMessagesLeavesTheHeapAsItWas() throws Exception {
        try (Harness h = Harness.pair()) {
            h.recordWire = false;
            Node a = h.get(0);
            Node b = h.get(1);
            a.sendTo(b, 1);
            assertNotNull(b.tun.poll(5_000));
            h.settle();
            int index = a.peer(b).currentKeypair().remoteIndex(); // B's index of the session: it is on the wire
            Endpoint attacker = new Endpoint(IpPackets.ip("10.66.0.1"), 6666);
            long before = usedHeapAfterGc();
            byte[] huge = dataMessage(index, 65_000);
            for (int chunk = 0; chunk < 40; chunk++) {
                for (int i = 0; i < 100; i++) {
                    h.network.inject(huge, attacker, b.endpoint());
                }
                h.settle(); // the in-memory network queues copies: let each chunk drain
            }
            assertEquals(4000, b.bind.droppedOversized(), "dropped by the bind, not copied into the device");
            long after = usedHeapAfterGc();
            assertTrue(after - before < 16 << 20, "heap grew by " + (after - before) / 1024 + " KiB");

            // Just over what the MTU allows but within the receive buffers: dropped by the device, counted.
            h.network.inject(dataMessage(index, b.device.maxDataMessage() + 1), attacker, b.endpoint());
            h.settle();
            assertEquals(1, b.device.stats().oversized.sum());
            a.sendTo(b, 2);
            assertNotNull(b.tun.poll(5_000), "the session carries on");
        }
    }
}
