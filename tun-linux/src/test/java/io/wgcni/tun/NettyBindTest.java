package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.epoll.Epoll;
import io.wgcni.wg.Skip;
import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.net.BindException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** NettyBind over loopback (127.0.0.1 and ::1 only), on both transports. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NettyBindTest {
    static final InetAddress V4 = address("127.0.0.1");
    static final InetAddress V6 = address("::1");

    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private final List<Collector> collectors = new ArrayList<>();

    /** Closes the binds first: that ends their collectors' receive() loops. */
    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : cleanup.reversed()) {
            c.close();
        }
        for (Collector c : collectors) {
            c.stop();
            assertFalse(c.thread.isAlive(), "a reader still blocked after close()");
        }
    }

    enum Loopback {
        V4(NettyBindTest.V4),
        V6(NettyBindTest.V6);

        final InetAddress address;

        Loopback(InetAddress address) {
            this.address = address;
        }
    }

    static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    NettyBind bind(NettyBind.Transport transport) {
        if (transport == NettyBind.Transport.EPOLL) {
            Skip.unless(Epoll.isAvailable(), Skip.Reason.PLATFORM, "epoll transport not available here");
        }
        NettyBind b = new NettyBind(transport);
        assertEquals(transport, b.transport());
        cleanup.add(b);
        return b;
    }

    Collector collect(Bind b) {
        Collector c = new Collector(b);
        collectors.add(c);
        return c;
    }

    static Packet packet(int size, int seed) {
        Packet p = new Packet(new byte[size + 7]);
        for (int i = 0; i < size; i++) {
            p.buf[i + 3] = (byte) (seed * 31 + i);
        }
        return p.set(3, size);
    }

    static byte[] content(int size, int seed) {
        Packet p = packet(size, seed);
        return java.util.Arrays.copyOfRange(p.buf, p.offset, p.end());
    }

    /** A datagram as received: a copy of the bytes and the sender. */
    record Received(byte[] bytes, Endpoint from) {}

    /** Reads a bind on its own thread, as the device's UDP reader does, until receive() returns -1. */
    static final class Collector {
        final LinkedBlockingQueue<Received> queue = new LinkedBlockingQueue<>();
        final AtomicInteger calls = new AtomicInteger();
        final Thread thread;
        volatile int lastResult;

        Collector(Bind bind) {
            thread = Thread.ofPlatform().daemon().name("collector").start(() -> {
                Packet[] packets = new Packet[bind.batchSize()];
                for (int i = 0; i < packets.length; i++) {
                    packets[i] = new Packet(new byte[NettyBind.MAX_DATAGRAM]); // receive never grows a buffer
                }
                try {
                    while (true) {
                        int n = bind.receive(packets, packets.length);
                        calls.incrementAndGet();
                        lastResult = n;
                        if (n < 0) {
                            return;
                        }
                        for (int i = 0; i < n; i++) {
                            Packet p = packets[i];
                            assertEquals(0, p.offset);
                            queue.add(new Received(java.util.Arrays.copyOfRange(p.buf, 0, p.length), p.endpoint));
                        }
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }

        Received next() throws InterruptedException {
            Received r = queue.poll(5, TimeUnit.SECONDS);
            assertNotNull(r, "no datagram within 5 s");
            return r;
        }

        void stop() throws InterruptedException {
            thread.join(5_000);
        }
    }

    static void sendAll(Bind from, List<Packet> packets, Endpoint to) throws IOException {
        Packet[] batch = new Packet[from.batchSize()];
        for (int i = 0; i < packets.size(); i += batch.length) {
            int n = Math.min(batch.length, packets.size() - i);
            for (int j = 0; j < n; j++) {
                batch[j] = packets.get(i + j);
            }
            from.send(batch, n, to);
        }
    }

    @ParameterizedTest(name = "{0} over {1}")
    @EnumSource(value = NettyBind.Transport.class, names = {"EPOLL", "NIO"})
    void exchangesEverySizeBothWays(NettyBind.Transport transport) throws Exception {
        for (Loopback lo : Loopback.values()) {
            NettyBind a = bind(transport);
            NettyBind b = bind(transport);
            int portA = a.open(0);
            int portB = b.open(0);
            Collector atA = collect(a);
            Collector atB = collect(b);
            Endpoint toA = new Endpoint(lo.address, portA);
            Endpoint toB = new Endpoint(lo.address, portB);

            List<Packet> sizes = new ArrayList<>();
            for (int size = 0; size <= 1500; size++) {
                sizes.add(packet(size, size));
            }
            sizes.add(packet(65000, 7));
            sendAll(a, sizes, toB);
            for (int size = 0; size <= 1500; size++) {
                Received r = atB.next();
                assertArrayEquals(content(size, size), r.bytes(), lo + ": datagram of " + size + " bytes");
                assertEquals(toA, r.from());
            }
            Received big = atB.next();
            assertArrayEquals(content(65000, 7), big.bytes(), "65000-byte datagram");

            // And back, to the endpoint b saw.
            sendAll(b, sizes, big.from());
            for (int size = 0; size <= 1500; size++) {
                Received r = atA.next();
                assertArrayEquals(content(size, size), r.bytes(), lo + ": reply of " + size + " bytes");
                assertEquals(toB, r.from());
            }
            assertArrayEquals(content(65000, 7), atA.next().bytes());
            if (lo == Loopback.V4) {
                assertInstanceOf(Inet4Address.class, big.from().address(), "IPv4-mapped sender not unmapped");
                assertEquals("127.0.0.1:" + portA, big.from().toString());
            } else {
                assertEquals("[::1]:" + portA, big.from().toString());
            }
            assertEquals(0, a.droppedOnReceive() + b.droppedOnReceive() + a.droppedOnSend() + b.droppedOnSend());
            a.close();
            b.close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = NettyBind.Transport.class, names = {"EPOLL", "NIO"})
    void theSmallestReceiveRingStillCarriesTheLargestDatagramWhereverItStands(NettyBind.Transport transport)
            throws Exception {
        assertThrows(IllegalArgumentException.class, () -> new NettyBind(transport, NettyBind.MIN_RING_BYTES - 1));
        NettyBind a = bind(transport);
        NettyBind b = new NettyBind(transport, NettyBind.MIN_RING_BYTES);
        cleanup.add(b);
        a.open(0);
        Endpoint toB = new Endpoint(V4, b.open(0));
        Collector atB = collect(b);
        for (int i = 0; i < 20; i++) {
            sendAll(a, List.of(packet(i == 10 ? 65000 : 1400, i)), toB);
            assertArrayEquals(content(i == 10 ? 65000 : 1400, i), atB.next().bytes(), "datagram " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(value = NettyBind.Transport.class, names = {"EPOLL", "NIO"})
    void burstOf1000KeepsOrder(NettyBind.Transport transport) throws Exception {
        NettyBind a = bind(transport);
        NettyBind b = bind(transport);
        a.open(0);
        int portB = b.open(0);
        Collector atB = collect(b);
        List<Packet> burst = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            Packet p = packet(100 + i % 1300, i);
            ByteBuffer.wrap(p.buf, p.offset, 4).putInt(i);
            burst.add(p);
        }
        sendAll(a, burst, new Endpoint(V4, portB));

        int last = -1;
        int arrived = 0;
        while (true) {
            Received r = atB.queue.poll(arrived == 0 ? 5_000 : 1_000, TimeUnit.MILLISECONDS);
            if (r == null) {
                break;
            }
            int seq = ByteBuffer.wrap(r.bytes()).getInt();
            assertTrue(seq > last, "datagram " + seq + " after " + last);
            assertEquals(100 + seq % 1300, r.bytes().length);
            last = seq;
            arrived++;
            if (arrived == 1000) {
                break;
            }
        }
        System.out.printf("%s burst: %d of 1000 arrived in order, %d dropped on receive, %d reads%n",
                transport, arrived, b.droppedOnReceive(), atB.calls.get());
        if (b.droppedOnReceive() == 0) {
            assertEquals(1000, arrived, "the reader kept up, so nothing may be lost on loopback");
        }
    }

    @ParameterizedTest
    @EnumSource(value = NettyBind.Transport.class, names = {"EPOLL", "NIO"})
    void talksToTheJdksDatagramChannel(NettyBind.Transport transport) throws Exception {
        NettyBind b = bind(transport);
        int port = b.open(0);
        Collector atB = collect(b);
        for (Loopback lo : Loopback.values()) {
            try (DatagramChannel jdk = DatagramChannel.open(
                    lo == Loopback.V4 ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6)) {
                jdk.bind(new InetSocketAddress(lo.address, 0));
                jdk.configureBlocking(true);
                Endpoint jdkEndpoint = Endpoint.of((InetSocketAddress) jdk.getLocalAddress());
                for (int size : new int[] {0, 1, 148, 1420, 65000}) {
                    jdk.send(ByteBuffer.wrap(content(size, size)), new InetSocketAddress(lo.address, port));
                    Received r = atB.next();
                    assertArrayEquals(content(size, size), r.bytes(), lo + " from the JDK: " + size);
                    assertEquals(jdkEndpoint, r.from());

                    b.send(new Packet[] {packet(size, size + 1)}, 1, r.from());
                    ByteBuffer in = ByteBuffer.allocate(65536);
                    InetSocketAddress from = (InetSocketAddress) jdk.receive(in);
                    assertEquals(new InetSocketAddress(lo.address, port), from);
                    assertArrayEquals(content(size, size + 1), java.util.Arrays.copyOf(in.array(), in.position()),
                            lo + " to the JDK: " + size);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = NettyBind.Transport.class, names = {"EPOLL", "NIO"})
    void opensRandomPortsRefusesTakenOnesAndReopens(NettyBind.Transport transport) throws Exception {
        NettyBind a = bind(transport);
        NettyBind b = bind(transport);
        int portA = a.open(0);
        int portB = b.open(0);
        assertTrue(portA > 0 && portB > 0);
        assertNotEquals(portA, portB);
        assertEquals(portA, a.localAddress().getPort());
        assertThrows(IOException.class, () -> a.open(0), "already open");

        NettyBind c = bind(transport);
        assertThrows(BindException.class, () -> c.open(portA));
        assertNull(c.localAddress());
        // The failed open left nothing behind: c opens elsewhere and works.
        int portC = c.open(0);
        assertNotEquals(portA, portC);

        // Close and reopen on the same port, twice.
        for (int round = 0; round < 2; round++) {
            a.close();
            assertNull(a.localAddress());
            assertThrows(SocketException.class, () -> a.send(new Packet[] {packet(1, 1)}, 1, new Endpoint(V4, portB)));
            assertEquals(-1, a.receive(new Packet[] {new Packet()}, 1));
            assertEquals(portA, a.open(portA));
            Collector atA = collect(a);
            b.send(new Packet[] {packet(10, round)}, 1, new Endpoint(V4, portA));
            assertArrayEquals(content(10, round), atA.next().bytes());
        }
        a.close();
        a.close(); // twice is fine
    }

    @ParameterizedTest
    @EnumSource(value = NettyBind.Transport.class, names = {"EPOLL", "NIO"})
    void closeUnblocksABlockedReceive(NettyBind.Transport transport) throws Exception {
        NettyBind a = bind(transport);
        a.open(0);
        Collector reader = collect(a);
        Thread.sleep(200);
        assertTrue(reader.thread.isAlive(), "receive() should block while nothing arrives");
        assertEquals(0, reader.calls.get());
        long start = System.nanoTime();
        a.close();
        reader.thread.join(1_000);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertFalse(reader.thread.isAlive(), "receive() still blocked 1 s after close()");
        assertEquals(-1, reader.lastResult);
        System.out.printf("%s: close() unblocked receive() in %d ms%n", transport, ms);
        assertTrue(ms < 1_000, ms + " ms");
    }

    @ParameterizedTest
    @EnumSource(value = NettyBind.Transport.class, names = {"EPOLL", "NIO"})
    void ipv4OnlyBindWhenIpv6IsNotWanted(NettyBind.Transport transport) throws Exception {
        if (transport == NettyBind.Transport.EPOLL) {
            Skip.unless(Epoll.isAvailable(), Skip.Reason.PLATFORM, "epoll transport not available here");
        }
        NettyBind a = new NettyBind(transport, false, true);
        cleanup.add(a);
        NettyBind b = bind(transport);
        int portA = a.open(0);
        int portB = b.open(0);
        assertEquals(new InetSocketAddress(address("0.0.0.0"), portA), a.localAddress());
        assertEquals(new InetSocketAddress(address("::"), portB), b.localAddress());
        Collector atA = collect(a);
        Collector atB = collect(b);
        a.send(new Packet[] {packet(50, 1)}, 1, new Endpoint(V4, portB));
        Received r = atB.next();
        assertEquals(new Endpoint(V4, portA), r.from());
        b.send(new Packet[] {packet(60, 2)}, 1, r.from());
        assertArrayEquals(content(60, 2), atA.next().bytes());
        assertThrows(SocketException.class, () -> a.send(new Packet[] {packet(1, 1)}, 1, new Endpoint(V6, portB)));
    }

    static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    @Test
    void setMarkOnEpollAppliesAtOpenAndWhileOpen() throws Exception {
        NettyBind a = bind(NettyBind.Transport.EPOLL);
        Skip.unless(root(), Skip.Reason.NOT_ROOT, "SO_MARK needs CAP_NET_ADMIN");
        a.setMark(0x51820);
        int port = a.open(0);
        assertEquals(0x51820, a.channel().config().getOption(NettyBind.SO_MARK));
        a.setMark(42);
        assertEquals(42, a.channel().config().getOption(NettyBind.SO_MARK));
        // Marked datagrams still flow (no policy routing here).
        NettyBind b = bind(NettyBind.Transport.EPOLL);
        b.open(0);
        Collector atA = collect(a);
        Collector atB = collect(b);
        a.send(new Packet[] {packet(20, 3)}, 1, new Endpoint(V4, b.localAddress().getPort()));
        Received r = atB.next();
        b.send(new Packet[] {packet(20, 4)}, 1, r.from());
        assertArrayEquals(content(20, 4), atA.next().bytes());
        a.setMark(0);
        assertEquals(0, a.channel().config().getOption(NettyBind.SO_MARK));
        // Reopened sockets get the mark again.
        a.setMark(7);
        a.close();
        assertEquals(port, a.open(port));
        assertEquals(7, a.channel().config().getOption(NettyBind.SO_MARK));
    }

    @Test
    void setMarkOnNioNeedsEpoll() throws Exception {
        NettyBind a = bind(NettyBind.Transport.NIO);
        IOException e = assertThrows(IOException.class, () -> a.setMark(1));
        assertTrue(e.getMessage().contains("epoll"), e.getMessage());
        a.setMark(0); // clearing is always fine
        a.open(0);
        assertThrows(IOException.class, () -> a.setMark(1));
        a.setMark(0);
    }

    @Test
    void autoPicksEpollWhereAvailableUnlessForced() {
        String old = System.getProperty(NettyBind.TRANSPORT_PROPERTY);
        try {
            System.clearProperty(NettyBind.TRANSPORT_PROPERTY);
            assertEquals(Epoll.isAvailable() ? NettyBind.Transport.EPOLL : NettyBind.Transport.NIO,
                    new NettyBind().transport());
            System.setProperty(NettyBind.TRANSPORT_PROPERTY, "nio");
            assertEquals(NettyBind.Transport.NIO, new NettyBind().transport());
        } finally {
            if (old == null) {
                System.clearProperty(NettyBind.TRANSPORT_PROPERTY);
            } else {
                System.setProperty(NettyBind.TRANSPORT_PROPERTY, old);
            }
        }
    }

    @Test
    void receiveOnAClosedBindReturnsMinusOne() throws Exception {
        NettyBind a = new NettyBind(NettyBind.Transport.NIO);
        assertEquals(-1, a.receive(new Packet[] {new Packet()}, 1));
        assertEquals(128, a.batchSize());
    }
}
