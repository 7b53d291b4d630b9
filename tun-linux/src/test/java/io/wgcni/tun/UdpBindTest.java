package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.net.BindException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The FFM UDP bind over loopback: what goes in one socket comes out of the other byte for byte and in order, with
 * GSO trains and GRO on or off on either side; oversized datagrams are dropped and counted; close wakes a reader.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UdpBindTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    /** Sizes that make trains (runs of one size, a shorter one to end each), singles and a run longer than a train. */
    private static int[] sizes() {
        List<Integer> s = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            s.add(1452);
        }
        s.add(700);
        s.add(1);
        for (int i = 0; i < 3; i++) {
            s.add(200);
        }
        s.add(201); // longer than the run it follows: not part of it
        for (int i = 0; i < 100; i++) {
            s.add(148); // 100 > 64 segments: two trains
        }
        s.add(9000);
        s.add(0); // empty datagrams arrive too (and the device counts them as malformed)
        s.add(0);
        s.add(5);
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    @ParameterizedTest(name = "gso {0}, gro {1}")
    @CsvSource({"true, true", "false, false", "true, false", "false, true"})
    void everyDatagramArrivesWholeInOrderFromItsSender(boolean gso, boolean gro) throws Exception {
        try (UdpBind a = new UdpBind(gso, false); UdpBind b = new UdpBind(false, gro)) {
            int portA = a.open(0);
            int portB = b.open(0);
            assertEquals(gso, a.gso(), "GSO as asked (this kernel has UDP_SEGMENT)");
            assertEquals(gro && Offloads.kernelAtLeast(5, 12), b.gro(), "GRO as asked");
            int[] sizes = sizes();
            Packet[] out = new Packet[sizes.length];
            for (int i = 0; i < sizes.length; i++) {
                out[i] = packet(sizes[i], i);
            }
            CompletableFuture<List<byte[]>> got = CompletableFuture.supplyAsync(() -> receive(b, sizes.length, portA));
            a.send(out, out.length, new Endpoint(LOOPBACK, portB));
            List<byte[]> in = got.get(10, TimeUnit.SECONDS);
            for (int i = 0; i < sizes.length; i++) {
                assertArrayEquals(Arrays.copyOfRange(out[i].buf, out[i].offset, out[i].end()), in.get(i),
                        "datagram " + i + " of " + sizes[i] + " bytes");
            }
            assertEquals(0, a.socketErrors() + b.socketErrors());
        }
    }

    @Test
    void aDatagramLongerThanTheBufferIsDroppedAndCountedAndTheNextOneArrives() throws Exception {
        try (UdpBind a = new UdpBind(true, true); UdpBind b = new UdpBind(true, true)) {
            a.open(0);
            int portB = b.open(0);
            a.send(new Packet[] {packet(1000, 1), packet(100, 2)}, 2, new Endpoint(LOOPBACK, portB));
            Packet[] small = {new Packet(new byte[512])};
            assertEquals(1, b.receive(small, 1));
            assertEquals(100, small[0].length, "the 1000-byte datagram did not fit 512 bytes: skipped");
            assertEquals(1, b.droppedOversized());
            assertEquals(1L, b.drops().get("udp_oversized"), "and stats=1 lists it");
            assertEquals(512, small[0].buf.length, "and the buffer was not grown");
        }
    }

    @Test
    void closeWakesABlockedReaderAndTheBindOpensAgain() throws Exception {
        UdpBind b = new UdpBind();
        b.open(0);
        CompletableFuture<Integer> r = CompletableFuture.supplyAsync(() -> {
            try {
                return b.receive(new Packet[] {new Packet()}, 1);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        long start = System.nanoTime();
        b.close();
        assertEquals(-1, r.get(2, TimeUnit.SECONDS));
        assertTrue(System.nanoTime() - start < 1_000_000_000L, "woken within a second");
        assertThrows(java.net.SocketException.class,
                () -> b.send(new Packet[] {packet(10, 0)}, 1, new Endpoint(LOOPBACK, 9)));
        int port = b.open(0);
        assertTrue(port > 0);
        b.close();
    }

    @Test
    void aPortInUseIsRefusedClearlyAndChangesNothing() throws Exception {
        try (UdpBind a = new UdpBind(); UdpBind b = new UdpBind()) {
            int port = a.open(0);
            BindException e = assertThrows(BindException.class, () -> b.open(port));
            assertTrue(e.getMessage().contains(Integer.toString(port)), e.getMessage());
            assertEquals(0, b.port(), "still closed");
            assertTrue(b.open(0) > 0);
            assertEquals(port, a.port());
        }
    }

    @Test
    void talksToIpv6LoopbackFromItsDualStackSocket() throws Exception {
        InetAddress v6 = InetAddress.getByName("::1");
        try (UdpBind a = new UdpBind(); UdpBind b = new UdpBind()) {
            int portA = a.open(0);
            int portB = b.open(0);
            Packet[] out = {packet(1200, 1), packet(1200, 2), packet(300, 3)};
            a.send(out, 3, new Endpoint(v6, portB));
            Packet[] in = {new Packet(), new Packet(), new Packet()};
            int n = 0;
            while (n < 3) {
                Packet[] rest = Arrays.copyOfRange(in, n, 3);
                n += b.receive(rest, rest.length);
            }
            assertEquals(new Endpoint(v6, portA), in[0].endpoint);
            assertEquals(300, in[2].length);
        }
    }

    private static List<byte[]> receive(UdpBind b, int count, int fromPort) {
        List<byte[]> got = new ArrayList<>();
        Packet[] ps = new Packet[16];
        for (int i = 0; i < ps.length; i++) {
            ps[i] = new Packet(new byte[Packet.SUPER_CAPACITY]);
        }
        try {
            while (got.size() < count) {
                int n = b.receive(ps, ps.length);
                if (n < 0) {
                    throw new IllegalStateException("closed after " + got.size() + " of " + count + " datagrams");
                }
                for (int i = 0; i < n; i++) {
                    assertEquals(new Endpoint(LOOPBACK, fromPort), ps[i].endpoint);
                    got.add(Arrays.copyOfRange(ps[i].buf, ps[i].offset, ps[i].end()));
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return got;
    }

    /** A packet of {@code size} bytes whose content tells it from any other ({@code seed}). */
    private static Packet packet(int size, int seed) {
        byte[] b = new byte[Packet.HEADROOM + size + Packet.TAILROOM];
        for (int i = 0; i < size; i++) {
            b[Packet.HEADROOM + i] = (byte) (seed * 31 + i * 7);
        }
        return new Packet(b).set(Packet.HEADROOM, size);
    }
}
