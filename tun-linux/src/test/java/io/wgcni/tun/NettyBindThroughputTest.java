package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.SegmentedDatagramPacket;
import io.netty.channel.socket.SocketProtocolFamily;
import io.wgcni.wg.Skip;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;

/** GSO on send, and a throughput sanity check (reported, not asserted). Loopback only. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NettyBindThroughputTest {

    /**
     * Trains from another GSO sender (plain Netty) arrive one datagram at a time, with a short last segment, in
     * order, also when several trains come in one sendmmsg; and the epoll read buffer is back to one reference
     * afterwards. That last check fails when UDP_GRO is on with Netty 4.2.18, whose recvmmsg leaks a reference
     * when a read returns a single train; and with GRO on and no control buffers, the first check fails
     * (netty/netty#17492).
     */
    @Test
    void splitsGsoTrainsAndKeepsTheReadBufferBalanced() throws Exception {
        Skip.unless(Epoll.isAvailable(), Skip.Reason.PLATFORM, "epoll transport not available here");
        Skip.unless(EpollDatagramChannel.isSegmentedDatagramPacketSupported(), Skip.Reason.PLATFORM,
                "no UDP_SEGMENT here");
        NettyBind b = new NettyBind(NettyBind.Transport.EPOLL);
        try {
            int port = b.open(0);
            ReusedRecvByteBufAllocator readBuffer = (ReusedRecvByteBufAllocator)
                    b.channel().config().getOption(io.netty.channel.ChannelOption.RECVBUF_ALLOCATOR);
            MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
            try {
                EpollDatagramChannel sender = new EpollDatagramChannel(SocketProtocolFamily.INET);
                new io.netty.bootstrap.Bootstrap().group(group)
                        .channelFactory((io.netty.channel.ChannelFactory<EpollDatagramChannel>) () -> sender)
                        .handler(new ChannelInboundHandlerAdapter()).register().sync();
                sender.bind(new InetSocketAddress(NettyBindTest.V4, 0)).sync();
                InetSocketAddress to = new InetSocketAddress(NettyBindTest.V4, port);
                Endpoint senderEndpoint = NettyBind.endpointOf(sender.localAddress());

                // Three trains in one flush: 10 x 1000 + 500, 40 x 1400, 3 x 64.
                int[][] trains = {{1000, 10, 500}, {1400, 40, 1400}, {64, 3, 64}};
                List<byte[]> expected = new ArrayList<>();
                int seq = 0;
                for (int[] t : trains) {
                    ByteBuf train = Unpooled.directBuffer();
                    for (int i = 0; i <= t[1]; i++) {
                        int size = i < t[1] ? t[0] : t[2];
                        byte[] d = NettyBindTest.content(size, seq);
                        ByteBuffer.wrap(d).putInt(seq++);
                        expected.add(d);
                        train.writeBytes(d);
                    }
                    sender.write(new SegmentedDatagramPacket(train, t[0], to));
                }
                sender.flush();

                NettyBindTest.Collector c = new NettyBindTest.Collector(b);
                for (byte[] d : expected) {
                    NettyBindTest.Received r = c.next();
                    assertArrayEquals(d, r.bytes(), "datagram " + ByteBuffer.wrap(d).getInt());
                    assertEquals(senderEndpoint, r.from());
                }
                // One train alone in a read, three times.
                for (int round = 0; round < 3; round++) {
                    ByteBuf train = Unpooled.directBuffer();
                    for (int i = 0; i < 5; i++) {
                        train.writeBytes(NettyBindTest.content(300, round * 10 + i));
                    }
                    sender.writeAndFlush(new SegmentedDatagramPacket(train, 300, to)).sync();
                    for (int i = 0; i < 5; i++) {
                        assertArrayEquals(NettyBindTest.content(300, round * 10 + i), c.next().bytes());
                    }
                }
                Thread.sleep(50);
                assertEquals(1, readBuffer.refCnt(), "a read kept a reference to the shared read buffer");
                b.close();
                c.stop();
                assertEquals(0, readBuffer.refCnt(), "close() did not free the read buffer");
                sender.close().sync();
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
        } finally {
            b.close();
        }
    }

    /** Sizes that start, fill, overflow (64 segments) and end GSO trains, with odd ones in between. */
    static List<Packet> trainPattern() {
        List<Packet> out = new ArrayList<>();
        int[][] runs = {{1400, 50}, {700, 1}, {1400, 3}, {1500, 1}, {100, 70}, {0, 1}, {20, 5}, {30, 1}, {1420, 2},
            {60000, 2}, {33, 1}};
        int seq = 0;
        for (int[] run : runs) {
            for (int i = 0; i < run[1]; i++) {
                Packet p = NettyBindTest.packet(run[0], seq);
                if (run[0] >= 4) {
                    ByteBuffer.wrap(p.buf, p.offset, 4).putInt(seq);
                }
                seq++;
                out.add(p);
            }
        }
        return out;
    }

    static byte[] bytes(Packet p) {
        return java.util.Arrays.copyOfRange(p.buf, p.offset, p.end());
    }

    /** GSO trains reach every kind of receiver as the datagrams they were made of (the kernel cuts them up). */
    @Test
    void gsoTrainsArriveAsSeparateDatagrams() throws Exception {
        Skip.unless(Epoll.isAvailable(), Skip.Reason.PLATFORM, "epoll transport not available here");
        try (NettyBind a = new NettyBind(NettyBind.Transport.EPOLL, true, true);
                NettyBind nio = new NettyBind(NettyBind.Transport.NIO);
                NettyBind epoll = new NettyBind(NettyBind.Transport.EPOLL);
                java.nio.channels.DatagramChannel jdk = java.nio.channels.DatagramChannel.open()) {
            a.open(0);
            Skip.unless(a.udpGso(), Skip.Reason.PLATFORM, "no UDP GSO here");
            List<Packet> pattern = trainPattern();
            Packet[] batch = pattern.toArray(new Packet[0]);
            Endpoint from = new Endpoint(NettyBindTest.V4, a.localAddress().getPort());

            // The JDK socket reads only after the whole batch is in: room for all of it (root may exceed rmem_max).
            jdk.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 4 << 20);
            jdk.bind(new InetSocketAddress(NettyBindTest.V4, 0));
            a.send(batch, batch.length, Endpoint.of((InetSocketAddress) jdk.getLocalAddress()));
            ByteBuffer in = ByteBuffer.allocate(65536);
            for (Packet p : pattern) {
                in.clear();
                assertEquals(new InetSocketAddress(NettyBindTest.V4, from.port()), jdk.receive(in));
                assertArrayEquals(bytes(p), java.util.Arrays.copyOf(in.array(), in.position()), "to the JDK");
            }
            for (NettyBind b : new NettyBind[] {nio, epoll}) {
                int port = b.open(0);
                NettyBindTest.Collector c = new NettyBindTest.Collector(b);
                a.send(batch, batch.length, new Endpoint(NettyBindTest.V6, port));
                for (Packet p : pattern) {
                    NettyBindTest.Received r = c.next();
                    assertArrayEquals(bytes(p), r.bytes(), "to " + b.transport());
                    assertEquals(new Endpoint(NettyBindTest.V6, from.port()), r.from());
                }
                b.close();
                c.stop();
            }
            assertTrue(a.udpGso(), "GSO turned itself off: the kernel refused a train");
            assertEquals(0, nio.droppedOnReceive() + epoll.droppedOnReceive());
            assertTrue(a.gsoTrains() >= 3 * 6, "trains sent: " + a.gsoTrains());
            assertEquals(0, a.socketErrors());
        }
    }

    /** 100,000 datagrams of 1400 bytes from one bind to another over 127.0.0.1: rates are printed. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"EPOLL+GSO", "EPOLL", "NIO"})
    void throughputSanity(String mode) throws Exception {
        NettyBind.Transport transport = mode.startsWith("EPOLL") ? NettyBind.Transport.EPOLL : NettyBind.Transport.NIO;
        if (transport == NettyBind.Transport.EPOLL) {
            Skip.unless(Epoll.isAvailable(), Skip.Reason.PLATFORM, "epoll transport not available here");
        }
        boolean gso = mode.endsWith("GSO");
        final int total = 100_000;
        final int size = 1400;
        NettyBind a = new NettyBind(transport, true, gso);
        NettyBind b = new NettyBind(transport);
        try {
            a.open(0);
            int portB = b.open(0);
            AtomicLong received = new AtomicLong();
            AtomicLong lastArrival = new AtomicLong();
            AtomicLong outOfOrder = new AtomicLong();
            Thread reader = Thread.ofPlatform().name("throughput-reader").start(() -> {
                Packet[] packets = new Packet[b.batchSize()];
                for (int i = 0; i < packets.length; i++) {
                    packets[i] = new Packet(new byte[NettyBind.MAX_DATAGRAM]); // receive never grows a buffer
                }
                int last = -1;
                try {
                    int n;
                    while ((n = b.receive(packets, packets.length)) >= 0) {
                        for (int i = 0; i < n; i++) {
                            int seq = ByteBuffer.wrap(packets[i].buf, 0, 4).getInt();
                            if (seq <= last) {
                                outOfOrder.incrementAndGet();
                            }
                            last = seq;
                        }
                        received.addAndGet(n);
                        lastArrival.set(System.nanoTime());
                    }
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });

            Packet[] batch = new Packet[a.batchSize()];
            for (int i = 0; i < batch.length; i++) {
                batch[i] = new Packet().set(0, size);
            }
            Endpoint to = new Endpoint(NettyBindTest.V4, portB);
            long start = System.nanoTime();
            for (int sent = 0; sent < total; ) {
                int n = Math.min(batch.length, total - sent);
                for (int i = 0; i < n; i++) {
                    ByteBuffer.wrap(batch[i].buf, 0, 4).putInt(sent + i);
                }
                a.send(batch, n, to);
                sent += n;
            }
            long sendDone = System.nanoTime();
            // Wait until everything arrived or nothing more comes for half a second.
            long seen = -1;
            while (received.get() < total && received.get() != seen) {
                seen = received.get();
                Thread.sleep(500);
            }
            long end = received.get() > 0 ? lastArrival.get() : System.nanoTime();
            b.close();
            reader.join(5_000);

            long got = received.get();
            double secs = (end - start) / 1e9;
            System.out.printf(
                    "THROUGHPUT %s: %d x %d B sent in %.0f ms (%.0f/s offered); %d received (%.1f%%) in %.0f ms ="
                            + " %.0f datagrams/s (%.2f Gbit/s); dropped: ring %d, send %d; out of order %d%n",
                    mode, total, size, (sendDone - start) / 1e6, total / ((sendDone - start) / 1e9), got,
                    100.0 * got / total, secs * 1e3, got / secs, got * size * 8 / secs / 1e9,
                    b.droppedOnReceive(), a.droppedOnSend(), outOfOrder.get());
            assertTrue(got > 0, "nothing arrived");
            assertEquals(0, outOfOrder.get(), "loopback reordered datagrams");
        } finally {
            a.close();
            b.close();
        }
    }
}
