package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.IpHeader;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link TunPoller} over real TUNs in a namespace of the test's own: the kernel sends UDP datagrams out of each TUN
 * (a socket in the namespace sends to the TUN's peer address, 10.80.i.2), and each TUN's drain must get exactly its
 * own, on the poller's one thread.
 */
class TunPollerTest {
    private static final int PORT = 9999;
    private static final long WAIT_SECONDS = 10;

    @RegisterExtension
    final Namespaces fixture = new Namespaces();
    private String ns;
    private DatagramSocket sender;

    @BeforeEach
    void namespace() throws IOException {
        ns = fixture.create("wgpoll-");
        sender = fixture.closeLater(Netns.inNamespace(ns, DatagramSocket::new)); // its namespace is where it was made
    }

    /** TUN {@code i}: 10.80.i.1/24, up, IPv6 off so the kernel sends nothing of its own (router solicitations). */
    private LinuxTun tun(int i) throws IOException {
        LinuxTun tun = fixture.closeLater(LinuxTun.createIn(ns, "wgp" + i, 1420));
        Path sysctl = Path.of("/proc/sys/net/ipv6/conf/" + tun.name() + "/disable_ipv6");
        Netns.runIn(ns, () -> Files.writeString(sysctl, "1"));
        Links links = Links.in(ns);
        links.addAddress(tun.name(), "10.80." + i + ".1/24");
        links.setUp(tun.name());
        return tun;
    }

    /** A datagram out of TUN {@code i} (routed to 10.80.i.2), carrying {@code i} and {@code seq}. */
    private void send(int i, int seq) throws IOException {
        byte[] payload = ByteBuffer.allocate(8).putInt(i).putInt(seq).array();
        sender.send(new DatagramPacket(payload, payload.length,
                new InetSocketAddress(InetAddress.getByName("10.80." + i + ".2"), PORT)));
    }

    /** Blocks (poll(2), no spinning) until the kernel has queued a packet on the TUN. */
    private static void awaitQueued(LinuxTun tun) {
        int[] fds = {tun.fd(), LibC.POLLIN};
        assertEquals(1, LibC.poll(fds, 1, (int) TimeUnit.SECONDS.toMillis(WAIT_SECONDS)), tun + " got nothing");
    }

    /**
     * A drain that reads up to {@code perCall} packets and records the test's datagrams ({@code [tun, seq]}), the
     * thread it ran on and how often it saw -1.
     */
    private static class Recorder implements TunPoller.Drain {
        final LinuxTun tun;
        final int perCall;
        final ConcurrentLinkedQueue<int[]> got = new ConcurrentLinkedQueue<>();
        final Set<Thread> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger sawClosed = new AtomicInteger();
        final CountDownLatch closedSeen = new CountDownLatch(1);
        /** Replaced by the test thread ({@link #expect}), counted down by the poller's. */
        private volatile CountDownLatch arrivals;

        Recorder(LinuxTun tun, int perCall, int expected) {
            this.tun = tun;
            this.perCall = perCall;
            this.arrivals = new CountDownLatch(expected);
        }

        Recorder(LinuxTun tun, int expected) {
            this(tun, Integer.MAX_VALUE, expected);
        }

        /** Waits for {@code n} more datagrams from now on. */
        void expect(int n) {
            arrivals = new CountDownLatch(n);
        }

        void await() throws InterruptedException {
            CountDownLatch latch = arrivals;
            assertTrue(latch.await(WAIT_SECONDS, TimeUnit.SECONDS),
                    tun.name() + ": " + latch.getCount() + " datagrams missing; got " + got.size());
        }

        @Override
        public boolean drain(Packet[] buffers) throws IOException {
            threads.add(Thread.currentThread());
            calls.incrementAndGet();
            int n = tun.readReady(buffers, Math.min(perCall, buffers.length));
            if (n < 0) {
                sawClosed.incrementAndGet();
                closedSeen.countDown();
                return false;
            }
            for (int k = 0; k < n; k++) {
                int[] d = datagram(buffers[k]);
                if (d != null) {
                    got.add(d);
                    arrivals.countDown();
                }
            }
            before(n);
            return true;
        }

        /** A hook for tests, after each call's packets are recorded. */
        void before(int n) {
        }
    }

    /** {@code [tun, seq]} from an IPv4 UDP datagram to {@link #PORT}, or null for anything else. */
    private static int[] datagram(Packet p) {
        byte[] b = p.buf;
        int o = p.offset;
        if (IpHeader.version(b, o, p.length) != 4 || b[o + IpHeader.V4_PROTOCOL] != IpHeader.PROTO_UDP) {
            return null;
        }
        int udp = o + IpHeader.headerLength(b, o, 4);
        if (p.length - (udp - o) < IpHeader.UDP_HEADER + 8 || IpHeader.u16(b, udp + 2) != PORT) {
            return null;
        }
        ByteBuffer payload = ByteBuffer.wrap(b, udp + IpHeader.UDP_HEADER, 8);
        return new int[] {payload.getInt(), payload.getInt()};
    }

    private static Set<Thread> liveThreads() {
        return new HashSet<>(Thread.getAllStackTraces().keySet());
    }

    private static TunPoller poller() throws IOException {
        return new TunPoller("test", 32, Packet.SUPER_CAPACITY);
    }

    @Test
    void oneThreadServesTwentyTunsEachGettingExactlyItsOwnPackets() throws Exception {
        int tuns = 20;
        int perTun = 5;
        List<LinuxTun> list = new ArrayList<>();
        for (int i = 0; i < tuns; i++) {
            list.add(tun(i));
        }
        list.getFirst().readReady(new Packet[] {new Packet()}, 1); // links the downcalls here, not in the diff
        Set<Thread> before = liveThreads();
        List<Recorder> recorders = new ArrayList<>();
        try (TunPoller poller = poller()) {
            for (LinuxTun tun : list) {
                Recorder r = new Recorder(tun, perTun);
                recorders.add(r);
                poller.add(tun, r);
            }
            assertEquals(tuns, poller.size());
            for (int seq = 0; seq < perTun; seq++) {
                for (int i = 0; i < tuns; i++) {
                    send(i, seq);
                }
            }
            for (int i = 0; i < tuns; i++) {
                Recorder r = recorders.get(i);
                r.await();
                assertEquals(Set.of(poller.thread()), r.threads, "drains run on the poller's thread");
                List<String> got = r.got.stream().map(d -> d[0] + "/" + d[1]).toList();
                List<String> want = java.util.stream.IntStream.range(0, perTun).mapToObj(s -> r.tun.name()
                        .substring(3) + "/" + s).toList();
                assertEquals(want, got, r.tun.name() + " got its own datagrams, in order, once each");
            }
            Set<Thread> added = liveThreads();
            added.removeAll(before);
            assertEquals(Set.of(poller.thread()), added, "the poller adds one thread for all " + tuns + " TUNs");
            assertTrue(poller.thread().getName().startsWith("wg-tun-poller"), poller.thread().getName());
            assertTrue(poller.thread().isDaemon());
            assertEquals(0, poller.drainErrors());
            assertTrue(poller.drains() >= tuns, "at least a drain per TUN: " + poller.drains());
        }
        for (Recorder r : recorders) {
            assertEquals(0, r.sawClosed.get());
        }
        Set<Thread> after = liveThreads();
        after.removeAll(before);
        assertEquals(Set.of(), after, "close stops the thread");
    }

    @Test
    void afterRemoveADrainIsNotCalledAgainAndItsPacketsStayQueued() throws Exception {
        LinuxTun a = tun(1);
        LinuxTun b = tun(2);
        try (TunPoller poller = poller()) {
            Recorder ra = new Recorder(a, 1);
            Recorder rb = new Recorder(b, 1);
            poller.add(a, ra);
            poller.add(b, rb);
            assertThrows(IllegalArgumentException.class, () -> poller.add(a, ra), "a TUN is added once");
            send(1, 0);
            send(2, 0);
            ra.await();
            rb.await();

            assertTrue(poller.remove(a));
            assertFalse(poller.remove(a), "removed already");
            assertFalse(poller.contains(a));
            assertEquals(1, poller.size());
            int callsAtRemove = ra.calls.get();
            rb.expect(3);
            for (int seq = 1; seq <= 3; seq++) {
                send(1, seq);
                send(2, seq);
            }
            rb.await(); // the poller went round after a's datagrams were queued
            assertEquals(callsAtRemove, ra.calls.get(), "no drain after remove");
            Packet[] left = {new Packet(), new Packet(), new Packet(), new Packet()};
            assertEquals(3, a.readReady(left, left.length), "a's datagrams are still queued, unread");
            assertEquals(0, a.readReady(left, left.length), "nothing more: readReady does not wait");
        }
    }

    @Test
    void removeWaitsForTheDrainUnderWayUnlessTheDrainItselfRemoves() throws Exception {
        LinuxTun a = tun(1);
        LinuxTun b = tun(2);
        CountDownLatch inDrain = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean drainReturned = new AtomicBoolean();
        try (TunPoller poller = poller()) {
            Recorder ra = new Recorder(a, 1) {
                @Override
                void before(int n) {
                    inDrain.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    drainReturned.set(true);
                }
            };
            poller.add(a, ra);
            send(1, 0);
            assertTrue(inDrain.await(WAIT_SECONDS, TimeUnit.SECONDS));
            boolean[] returnedAfterDrain = new boolean[1];
            Thread remover = Thread.ofPlatform().name("remover").start(() -> {
                poller.remove(a);
                returnedAfterDrain[0] = drainReturned.get();
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (remover.getState() != Thread.State.BLOCKED && remover.isAlive() && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // until remove() waits for the drain (or, wrongly, has returned)
            }
            release.countDown();
            remover.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
            assertFalse(remover.isAlive());
            assertTrue(returnedAfterDrain[0], "remove returned only after the drain under way did");

            // A drain that removes its own TUN, on the poller's thread: no deadlock, and no call after.
            AtomicInteger selfCalls = new AtomicInteger();
            poller.add(b, buffers -> {
                selfCalls.incrementAndGet();
                b.readReady(buffers, buffers.length);
                assertTrue(poller.remove(b));
                return true;
            });
            Recorder rc = new Recorder(tun(3), 2);
            poller.add(rc.tun, rc);
            send(2, 0);
            awaitUntil(() -> selfCalls.get() == 1 && !poller.contains(b));
            send(2, 1);
            send(3, 0);
            awaitQueued(b);
            send(3, 1);
            rc.await();
            assertEquals(1, selfCalls.get(), "removed from within itself, it is not called again");
        }
    }

    @Test
    void aTunClosedWhileWatchedGetsALastDrainSeeingClosedAndGoesWhileOthersCarryOn() throws Exception {
        LinuxTun a = tun(1);
        LinuxTun b = tun(2);
        try (TunPoller poller = poller()) {
            Recorder ra = new Recorder(a, 1);
            Recorder rb = new Recorder(b, 1);
            poller.add(a, ra);
            poller.add(b, rb);
            send(1, 0);
            ra.await();
            int oldFd = a.fd();

            a.close();
            assertTrue(ra.closedSeen.await(WAIT_SECONDS, TimeUnit.SECONDS), "the drain learns that a closed");
            awaitUntil(() -> !poller.contains(a));
            assertEquals(1, ra.sawClosed.get());
            assertThrows(IOException.class, () -> poller.add(a, ra), "a closed TUN cannot be added");
            assertFalse(poller.contains(a));

            // A new TUN likely gets a's descriptor number: only its own drain may hear of it.
            LinuxTun c = tun(3);
            Recorder rc = new Recorder(c, 2);
            poller.add(c, rc);
            send(2, 0);
            send(3, 0);
            send(3, 1);
            rb.await();
            rc.await();
            assertTrue(poller.thread().isAlive());
            assertEquals(1, ra.sawClosed.get(), "a's drain heard nothing more (fd " + oldFd + " now " + c.fd() + ")");
            assertEquals(1, ra.got.size());
            assertEquals(2, poller.size());
        }
    }

    @Test
    void aDrainThatThrowsIsCountedAndTheOthersAreStillServed() throws Exception {
        LinuxTun a = tun(1);
        LinuxTun b = tun(2);
        LinuxTun c = tun(3);
        try (TunPoller poller = poller()) {
            AtomicInteger bugs = new AtomicInteger();
            // Throws without reading: a stays readable, so it is reported again every round.
            poller.add(a, buffers -> {
                bugs.incrementAndGet();
                throw new IllegalStateException("a bug in a's drain (the test's own)");
            });
            poller.add(c, buffers -> {
                throw new IOException("c failed (the test's own)");
            });
            Recorder rb = new Recorder(b, 3);
            poller.add(b, rb);
            send(1, 0);
            send(3, 0);
            awaitUntil(() -> bugs.get() > 2);
            awaitUntil(() -> !poller.contains(c));
            for (int seq = 0; seq < 3; seq++) {
                send(2, seq);
            }
            rb.await();
            assertTrue(poller.contains(a), "a drain that throws a RuntimeException stays watched");
            assertFalse(poller.contains(c), "one that throws an IOException is no longer watched");
            assertTrue(poller.remove(a)); // waits for a call under way: bugs stands still from here
            assertEquals(bugs.get() + 1L, poller.drainErrors(), "every failure counted, c's too");
            assertTrue(poller.thread().isAlive());
        }
    }

    @Test
    void aFloodedTunDoesNotStarveAnother() throws Exception {
        LinuxTun flooded = tun(1);
        LinuxTun quiet = tun(2);
        int backlog = 200;
        for (int seq = 0; seq < backlog; seq++) {
            send(1, seq);
        }
        awaitQueued(flooded);
        CountDownLatch tenth = new CountDownLatch(1);
        CountDownLatch resume = new CountDownLatch(1);
        try (TunPoller poller = poller()) {
            // One packet a call, so the flooded TUN stays readable for its whole backlog; the 10th call waits.
            Recorder rf = new Recorder(flooded, 1, backlog) {
                @Override
                void before(int n) {
                    if (calls.get() == 10) {
                        tenth.countDown();
                        try {
                            resume.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }
            };
            int[] floodedCallsAtQuiet = {-1};
            int[] floodedGotAtQuiet = {-1};
            Recorder rq = new Recorder(quiet, 3) {
                @Override
                public boolean drain(Packet[] buffers) throws IOException {
                    if (floodedCallsAtQuiet[0] < 0) {
                        floodedCallsAtQuiet[0] = rf.calls.get();
                        floodedGotAtQuiet[0] = rf.got.size();
                    }
                    return super.drain(buffers);
                }
            };
            poller.add(flooded, rf);
            poller.add(quiet, rq);
            assertTrue(tenth.await(WAIT_SECONDS, TimeUnit.SECONDS));
            for (int seq = 0; seq < 3; seq++) {
                send(2, seq);
            }
            awaitQueued(quiet); // ready before the poller goes on: the next round sees both
            resume.countDown();
            rq.await();
            rf.await();
            assertEquals(backlog, rf.got.size(), "the whole backlog arrived");
            assertTrue(floodedCallsAtQuiet[0] <= 12,
                    "the quiet TUN waited " + (floodedCallsAtQuiet[0] - 10) + " of the flooded one's drains");
            assertTrue(floodedGotAtQuiet[0] < backlog, "it was served while the flooded one still had packets");
        }
    }

    @Test
    void refusesBadBuffersAndAddAfterClose() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> new TunPoller("x", 0, Packet.SUPER_CAPACITY));
        assertThrows(IllegalArgumentException.class, () -> new TunPoller("x", 1, Packet.HEADROOM));
        LinuxTun a = tun(1);
        TunPoller poller = poller();
        poller.close();
        assertFalse(poller.thread().isAlive());
        assertThrows(IllegalStateException.class, () -> poller.add(a, buffers -> true));
        poller.close(); // twice is fine
    }

    private static void awaitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "condition not met within " + WAIT_SECONDS + " s");
            Thread.sleep(5); // polling a condition the poller's thread sets, not waiting out a race
        }
    }
}
