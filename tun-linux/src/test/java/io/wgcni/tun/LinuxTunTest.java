package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class LinuxTunTest {
    @RegisterExtension
    final Namespaces fixture = new Namespaces();
    private static final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tun-test-watchdog");
        t.setDaemon(true);
        return t;
    });

    private String namespace() throws IOException {
        return fixture.create();
    }

    /**
     * A TUN in a namespace, up, with the given addresses. Without an IPv6 address IPv6 is off on it, so that the
     * kernel sends nothing by itself (router solicitations, MLD reports) and a reader sees only what a test caused.
     */
    private LinuxTun tunIn(String ns, String name, int mtu, String... addresses) throws IOException {
        LinuxTun tun = fixture.closeLater(LinuxTun.createIn(ns, name, mtu));
        if (java.util.Arrays.stream(addresses).noneMatch(a -> a.contains(":"))) {
            String sysctl = "/proc/sys/net/ipv6/conf/" + tun.name() + "/disable_ipv6";
            Netns.runIn(ns, () -> Files.writeString(Path.of(sysctl), "1"));
        }
        Links links = Links.in(ns);
        for (String a : addresses) {
            links.addAddress(tun.name(), a);
        }
        links.setUp(tun.name());
        return tun;
    }

    /**
     * Writes {@code request} every 200 ms (the first one may arrive before IPv6 has finished bringing the address
     * up: that happens in a kernel work queue after {@code ip link set up} returns) and reads until a packet
     * matches; fails after {@code seconds}, when the watchdog closes the TUN.
     */
    private static Packet exchange(LinuxTun tun, Packet request, java.util.function.Predicate<Packet> match,
            int seconds) throws IOException {
        ScheduledFuture<?> timeout = watchdog.schedule(tun::close, seconds, TimeUnit.SECONDS);
        ScheduledFuture<?> resend = watchdog.scheduleWithFixedDelay(() -> {
            try {
                tun.write(new Packet[] {request}, 1);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, 0, 200, TimeUnit.MILLISECONDS);
        try {
            Packet[] packets = packets(8);
            while (true) {
                int n = tun.read(packets, packets.length);
                if (n < 0) {
                    throw new AssertionError("no matching packet within " + seconds + " s");
                }
                for (int i = 0; i < n; i++) {
                    if (match.test(packets[i])) {
                        return packets[i];
                    }
                }
            }
        } finally {
            resend.cancel(false);
            timeout.cancel(false);
        }
    }

    private static Packet[] packets(int n) {
        Packet[] p = new Packet[n];
        for (int i = 0; i < n; i++) {
            p[i] = new Packet();
        }
        return p;
    }

    @Test
    void createsATunInTheHostNamespaceFromANameTemplateAndRemovesItOnClose() throws Exception {
        LinuxTun tun = LinuxTun.create("wgt%d", 1380);
        String name = fixture.hostLink(tun.name());
        try {
            assertTrue(name.matches("wgt\\d+"), name);
            assertTrue(Links.host().exists(name));
            assertEquals(1380, tun.mtu());
            assertEquals(1380, Links.host().mtu(name));
            assertEquals(tun.vnetHdr() ? LinuxTun.OFFLOAD_BATCH : LinuxTun.BATCH, tun.batchSize());
            assertEquals(null, tun.netns());
        } finally {
            tun.close();
        }
        assertTrue(tun.isClosed());
        assertFalse(Links.host().exists(name), "a non-persistent TUN goes away with its descriptor");
    }

    @Test
    void answersAnIpv4EchoRequestToItsOwnAddressWithAWholePacketAtHeadroom() throws Exception {
        String ns = namespace();
        LinuxTun tun = tunIn(ns, "wgt0", 1420, "10.77.0.1/24");
        InetAddress self = InetAddress.getByName("10.77.0.1");
        InetAddress peer = InetAddress.getByName("10.77.0.2");
        Packet request = new Packet();
        int len = Icmp.echo4(request.buf, Packet.HEADROOM, peer, self, 0x1234, 1, 1400);
        request.set(Packet.HEADROOM, len);

        Packet reply = exchange(tun, request,
                p -> Icmp.isEchoReply(p.buf, p.offset, p.length, self, peer, 0x1234, 1), 5);
        assertEquals(Packet.HEADROOM, reply.offset);
        assertEquals(1400, reply.length);
        assertTrue(reply.buf.length >= Packet.HEADROOM + tun.mtu() + Packet.TAILROOM);
        assertEquals(0, tun.droppedWrites());
    }

    @Test
    void answersAnIpv6EchoRequestToItsOwnAddress() throws Exception {
        String ns = namespace();
        LinuxTun tun = tunIn(ns, "wgt0", 1420, "fd00:77::1/64");
        InetAddress self = InetAddress.getByName("fd00:77::1");
        InetAddress peer = InetAddress.getByName("fd00:77::2");
        Packet request = new Packet();
        int len = Icmp.echo6(request.buf, Packet.HEADROOM, peer, self, 0x4321, 9, 1280);
        request.set(Packet.HEADROOM, len);

        // Router solicitations and MLD reports may come first: exchange skips them.
        Packet reply = exchange(tun, request,
                p -> Icmp.isEchoReply(p.buf, p.offset, p.length, self, peer, 0x4321, 9), 5);
        assertEquals(Packet.HEADROOM, reply.offset);
        assertEquals(1280, reply.length);
    }

    @Test
    void readsWhatIsQueuedInOneCallUpToMax() throws Exception {
        String ns = namespace();
        LinuxTun tun = tunIn(ns, "wgt0", 1420, "10.77.0.1/24");
        InetAddress self = InetAddress.getByName("10.77.0.1");
        InetAddress peer = InetAddress.getByName("10.77.0.2");
        int count = 10;
        Packet[] requests = packets(count);
        for (int i = 0; i < count; i++) {
            requests[i].set(Packet.HEADROOM, Icmp.echo4(requests[i].buf, Packet.HEADROOM, peer, self, 7, i, 100 + i));
        }
        tun.write(requests, count);
        Thread.sleep(100); // the answers are queued by now (the kernel answers within the write, in fact)

        Packet[] in = packets(count);
        assertEquals(3, tun.read(in, 3), "read stops at max");
        int n = tun.read(in, count);
        assertEquals(count - 3, n, "one read takes everything queued");
        for (int i = 0; i < n; i++) {
            int seq = i + 3;
            assertEquals(Packet.HEADROOM, in[i].offset);
            assertEquals(100 + seq, in[i].length);
            assertTrue(Icmp.isEchoReply(in[i].buf, in[i].offset, in[i].length, self, peer, 7, seq), "reply " + seq);
        }
    }

    @Test
    void closeFromAnotherThreadWakesABlockedReaderPromptly() throws Exception {
        String ns = namespace();
        LinuxTun tun = tunIn(ns, "wgt0", 1420, "10.77.0.1/24");
        CompletableFuture<Integer> read = new CompletableFuture<>();
        long[] returnedAt = new long[1];
        Thread reader = Thread.ofPlatform().name("blocked-reader").start(() -> {
            try {
                int n = tun.read(packets(4), 4);
                returnedAt[0] = System.nanoTime();
                read.complete(n);
            } catch (Throwable e) {
                read.completeExceptionally(e);
            }
        });
        Thread.sleep(300);
        assertFalse(read.isDone(), "nothing to read: the reader blocks");

        long t0 = System.nanoTime();
        tun.close();
        long closedAt = System.nanoTime();
        int n = read.get(1, TimeUnit.SECONDS);
        long ms = (returnedAt[0] - t0) / 1_000_000;
        System.out.println("close(): read returned -1 after " + (returnedAt[0] - t0) / 1000
                + " us, close returned after " + (closedAt - t0) / 1000 + " us");
        assertEquals(-1, n);
        assertTrue(ms < 1000, ms + " ms");
        reader.join(1000);
        assertFalse(reader.isAlive());

        assertEquals(-1, tun.read(packets(1), 1), "reads after close return -1 at once");
        tun.write(packets(1), 1); // dropped, no exception
        assertFalse(Links.in(ns).exists("wgt0"), "closing the descriptor removed the interface");
    }

    @Test
    void aReaderLearnsThatTheInterfaceWasRemoved() throws Exception {
        String ns = namespace();
        LinuxTun tun = tunIn(ns, "wgt0", 1420);
        CompletableFuture<Integer> read = CompletableFuture.supplyAsync(() -> {
            try {
                return tun.read(packets(1), 1);
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, r -> Thread.ofPlatform().start(r));
        Thread.sleep(200);
        assertFalse(tun.isRemoved());
        Links.in(ns).delete("wgt0");
        var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> read.get(2, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof IOException, String.valueOf(e.getCause()));
        assertTrue(e.getCause().getMessage().contains("removed"), e.getCause().getMessage());
        assertTrue(tun.isRemoved());
    }

    @Test
    void dropsWritesTheKernelRefuses() throws Exception {
        String ns = namespace();
        LinuxTun tun = fixture.closeLater(LinuxTun.createIn(ns, "wgt0", 1420)); // down: writes fail with EIO
        Packet p = new Packet();
        p.set(Packet.HEADROOM, Icmp.echo4(p.buf, Packet.HEADROOM, InetAddress.getByName("10.77.0.2"),
                InetAddress.getByName("10.77.0.1"), 1, 1, 60));
        tun.write(new Packet[] {p, p}, 2);
        assertEquals(2, tun.droppedWrites());
    }

    @Test
    void aPersistentTunOutlivesItsDescriptorWithItsAddressAndCanBeAttachedAgain() throws Exception {
        String ns = namespace();
        LinuxTun first = LinuxTun.createPersistentIn(ns, "wgtp0", 1380);
        try {
            assertTrue(first.isPersistent());
            Netns.runIn(ns, () -> Files.writeString(Path.of("/proc/sys/net/ipv6/conf/wgtp0/disable_ipv6"), "1"));
            Links.in(ns).addAddress("wgtp0", "10.77.0.1/24");
            Links.in(ns).setUp("wgtp0");
        } finally {
            first.close();
        }
        assertTrue(Links.in(ns).exists("wgtp0"), "a persistent TUN stays when its descriptor closes");
        assertTrue(Links.in(ns).ip("-o", "addr", "show", "dev", "wgtp0").contains("10.77.0.1/24"));

        LinuxTun again = fixture.closeLater(LinuxTun.openPersistentIn(ns, "wgtp0"));
        assertEquals("wgtp0", again.name());
        assertEquals(1380, again.mtu(), "the MTU is the interface's");
        assertTrue(again.isPersistent());
        InetAddress self = InetAddress.getByName("10.77.0.1");
        InetAddress peer = InetAddress.getByName("10.77.0.2");
        Packet request = new Packet();
        request.set(Packet.HEADROOM, Icmp.echo4(request.buf, Packet.HEADROOM, peer, self, 0x77, 1, 200));
        exchange(again, request, p -> Icmp.isEchoReply(p.buf, p.offset, p.length, self, peer, 0x77, 1), 5);

        again.setPersistent(false);
        assertFalse(again.isPersistent());
        again.close();
        Thread.sleep(50); // the kernel unregisters the interface asynchronously
        assertFalse(Links.in(ns).exists("wgtp0"), "no longer persistent: closing removed it");
    }

    @Test
    void createPersistentNeverTakesOverAnExistingInterface() throws Exception {
        String ns = namespace();
        LinuxTun held = fixture.closeLater(LinuxTun.createIn(ns, "wgtx0", 1420));
        assertThrows(java.nio.file.FileAlreadyExistsException.class,
                () -> LinuxTun.createPersistentIn(ns, "wgtx0", 1420));
        assertFalse(held.isPersistent(), "the existing TUN is left as it was");
        Links.in(ns).ip("link", "add", "wgtd0", "type", "veth", "peer", "name", "wgtd1");
        assertThrows(java.nio.file.FileAlreadyExistsException.class,
                () -> LinuxTun.createPersistentIn(ns, "wgtd0", 1420));
        assertTrue(Links.in(ns).exists("wgtd0"));
    }

    @Test
    void openPersistentFindsNothingToAttachToAndLeavesNothingBehind() throws Exception {
        String ns = namespace();
        assertThrows(java.nio.file.NoSuchFileException.class, () -> LinuxTun.openPersistentIn(ns, "wgtn0"));
        assertFalse(Links.in(ns).exists("wgtn0"), "the interface TUNSETIFF made on the way was removed");

        LinuxTun held = fixture.closeLater(LinuxTun.createPersistentIn(ns, "wgtb0", 1420));
        IOException busy = assertThrows(IOException.class, () -> LinuxTun.openPersistentIn(ns, "wgtb0"));
        assertTrue(busy.getMessage().contains("busy"), busy.getMessage());
        held.setPersistent(false);
    }

    @Test
    void rejectsNamesTheKernelCannotHold() {
        assertThrows(IllegalArgumentException.class, () -> LinuxTun.create("", 1420));
        assertThrows(IllegalArgumentException.class, () -> LinuxTun.create("sixteen-chars-xx", 1420));
    }
}
