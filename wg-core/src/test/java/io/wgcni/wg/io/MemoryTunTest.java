package io.wgcni.wg.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MemoryTunTest {
    private static Packet[] packets(int n) {
        Packet[] p = new Packet[n];
        for (int i = 0; i < n; i++) {
            p[i] = new Packet();
        }
        return p;
    }

    @Test
    void readReadyTakesWhatIsQueuedUpToMaxAndNeverWaits() {
        MemoryTun tun = new MemoryTun("mem0", 1420);
        Packet[] in = packets(4);
        assertEquals(0, tun.readReady(in, in.length), "nothing queued: 0 at once");
        for (int i = 1; i <= 3; i++) {
            tun.inject(new byte[] {0x45, (byte) i});
        }
        assertEquals(2, tun.readReady(in, 2), "up to max");
        assertEquals(Packet.HEADROOM, in[0].offset);
        assertArrayEquals(new byte[] {0x45, 1}, java.util.Arrays.copyOfRange(in[0].buf, in[0].offset, in[0].end()));
        assertEquals(1, tun.readReady(in, in.length));
        assertArrayEquals(new byte[] {0x45, 3}, java.util.Arrays.copyOfRange(in[0].buf, in[0].offset, in[0].end()));
        assertEquals(0, tun.readReady(in, in.length));
        assertEquals(true, tun.isIdle(), "all read, and the reader came back");
    }

    @Test
    void readReadyReturnsMinusOneOnceClosedAsReadDoes() {
        MemoryTun tun = new MemoryTun("mem0", 1420);
        Packet[] in = packets(2);
        tun.close();
        assertEquals(-1, tun.readReady(in, in.length));
        assertEquals(-1, tun.readReady(in, in.length), "and stays so");
        assertEquals(-1, tun.read(in, in.length));
    }
}
