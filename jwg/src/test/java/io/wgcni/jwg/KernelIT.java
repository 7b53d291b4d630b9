package io.wgcni.jwg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.tun.Netns;
import io.wgcni.tun.TcpTransfer;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * jwg against the Linux kernel's WireGuard: Debian's kernel and module in a qemu guest ({@link KernelVm}, one boot for
 * the class), jwg in the namespace that holds the guest's tap. Each test gives both sides fresh keys and a fresh wg0.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class KernelIT {
    /** Under TCG the guest's kernel moves a few MB/s: enough to show the stream arrives intact. */
    private static final long TO_GUEST = 24L << 20;
    private static final long FROM_GUEST_MB = 8;
    /** A fresh port for every transfer: a listener left over from a failed test cannot take the next one's. */
    private static final java.util.concurrent.atomic.AtomicInteger PORT =
            new java.util.concurrent.atomic.AtomicInteger(5001);

    @TempDir
    static Path dir;
    static KernelVm vm;
    /** Why the machine cannot run these tests (each test is then reported as skipped with it), or null. */
    static String missing;

    KernelVm.Guest guest;
    KernelVm.Jwg jwg;

    @BeforeAll
    static void boot() throws Exception {
        try {
            KernelVm.assumeAvailable();
        } catch (org.opentest4j.TestAbortedException e) {
            // An aborted @BeforeAll would hide the tests from the report: skip each one instead.
            missing = e.getMessage();
            return;
        }
        vm = new KernelVm(dir);
    }

    @AfterAll
    static void shutDown() {
        if (vm != null) {
            vm.close();
        }
    }

    @BeforeEach
    void sides() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(missing == null, missing);
        guest = vm.new Guest();
        jwg = vm.new Jwg().start();
    }

    @AfterEach
    void stopJwg() {
        if (jwg != null) {
            jwg.stop();
        }
    }

    @Test
    void jwgInitiatesPingIpv6TransferAndWgShow() throws Exception {
        guest.configure(jwg, null, null);
        jwg.configure(guest, KernelVm.GUEST4 + ":" + KernelVm.GUEST_PORT, null);
        long t0 = System.nanoTime();
        jwg.ping(KernelVm.INNER_GUEST4);
        System.out.printf("KernelIT: handshake and first ping from jwg in %.2f s%n", (System.nanoTime() - t0) / 1e9);
        guest.ping(KernelVm.INNER_HOST4);
        jwg.ping(KernelVm.INNER_GUEST6);
        guest.ping(KernelVm.INNER_HOST6);
        String endpoints = guest.wg("show wg0 endpoints");
        assertTrue(endpoints.contains(KernelVm.HOST4 + ":" + jwg.port),
                "the kernel learned jwg's endpoint: " + endpoints);

        toGuest(KernelVm.INNER_GUEST4, TO_GUEST);
        fromGuest(KernelVm.INNER_HOST6, FROM_GUEST_MB);

        long handshake = guest.latestHandshake();
        long[] transfer = guest.transfer();
        assertTrue(handshake > 0, "wg show in the guest reports a handshake: " + guest.wg("show wg0"));
        assertTrue(transfer[0] > TO_GUEST && transfer[1] > FROM_GUEST_MB << 20,
            "wg show in the guest counts the bytes both ways: " + guest.wg("show wg0"));
        String show = guest.wg("show wg0");
        assertTrue(show.contains("latest handshake:") && show.contains("transfer:"), show);
        System.out.println("KernelIT: guest's wg show:\n" + show);
    }

    @Test
    void kernelInitiates() throws Exception {
        guest.configure(jwg, KernelVm.HOST4 + ":" + jwg.port, null);
        jwg.configure(guest, null, null);
        guest.ping(KernelVm.INNER_HOST4);
        jwg.ping(KernelVm.INNER_GUEST4);
        guest.ping(KernelVm.INNER_HOST6);
        jwg.ping(KernelVm.INNER_GUEST6);
        String endpoints = jwg.wg("show", jwg.iface, "endpoints");
        assertTrue(endpoints.contains(KernelVm.GUEST4 + ":" + KernelVm.GUEST_PORT),
                "jwg learned the guest: " + endpoints);
        assertTrue(guest.latestHandshake() > 0, guest.wg("show wg0"));
        toGuest(KernelVm.INNER_GUEST6, 4L << 20);
    }

    @Test
    void presharedKeyOverOuterIpv6BothWays() throws Exception {
        Key psk = X25519.generatePrivateKey();
        guest.configure(jwg, "[" + KernelVm.HOST6 + "]:" + jwg.port, psk);
        jwg.configure(guest, "[" + KernelVm.GUEST6 + "]:" + KernelVm.GUEST_PORT, psk);
        jwg.ping(KernelVm.INNER_GUEST4);
        guest.ping(KernelVm.INNER_HOST4);
        jwg.ping(KernelVm.INNER_GUEST6);
        assertTrue(guest.wg("show wg0 preshared-keys").contains(psk.toBase64()), "the guest uses the preshared key");
        assertTrue(guest.latestHandshake() > 0, guest.wg("show wg0"));
        // A wrong preshared key on one side: no session.
        KernelVm.Guest other = vm.new Guest();
        jwg.stop();
        jwg = vm.new Jwg().start();
        other.configure(jwg, null, X25519.generatePrivateKey());
        jwg.configure(other, KernelVm.GUEST4 + ":" + KernelVm.GUEST_PORT, psk);
        String out = "";
        try {
            vm.in("ping", "-c", "1", "-W", "4", KernelVm.INNER_GUEST4);
        } catch (java.io.IOException expected) {
            out = expected.getMessage();
        }
        assertTrue(!out.isEmpty(), "no reply with mismatched preshared keys");
        assertEquals(0, other.latestHandshake(), "no handshake with mismatched preshared keys");
    }

    /** Sends {@code bytes} from the namespace to the guest's busybox nc; the guest's sha256sum must match. */
    static void toGuest(String address, long bytes) throws Exception {
        int port = PORT.getAndIncrement();
        vm.sh("rm -f /tmp/rx.sum; (nc -l -p " + port + " | sha256sum > /tmp/rx.part; mv /tmp/rx.part /tmp/rx.sum)"
            + " </dev/null >/dev/null 2>&1 &");
        InetAddress to = InetAddress.getByName(address);
        Socket connected = null;
        for (int i = 0; connected == null; i++) {
            try {
                connected = Netns.inNamespace(vm.ns, () -> {
                    Socket s = new Socket();
                    s.connect(new InetSocketAddress(to, port), 10_000);
                    return s;
                });
            } catch (java.io.IOException e) {
                if (i > 20) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
        long start = System.nanoTime();
        String sent;
        try (Socket client = connected) {
            sent = TcpTransfer.send(client, bytes);
            client.setSoTimeout(120_000);
            client.getInputStream().readAllBytes(); // until the guest's nc closes
        }
        String received = "";
        for (long deadline = System.nanoTime() + 60_000_000_000L; System.nanoTime() < deadline; Thread.sleep(200)) {
            received = vm.sh("cat /tmp/rx.sum 2>/dev/null || true").strip();
            if (!received.isEmpty()) {
                break;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("KernelIT: %d MB to the guest (%s) in %.1f s: %.0f Mbit/s%n", bytes >> 20, address, seconds,
            bytes * 8 / seconds / 1e6);
        assertEquals(sent, received.split("\\s+")[0], "the guest received the stream intact");
    }

    /** The guest sends {@code mb} MB of /dev/urandom with busybox nc; the namespace's digest must match the guest's. */
    static void fromGuest(String hostAddress, long mb) throws Exception {
        String expected = vm.sh("dd if=/dev/urandom of=/tmp/tx bs=1M count=" + mb + " 2>/dev/null; sha256sum /tmp/tx")
            .strip().split("\\s+")[0];
        InetAddress address = InetAddress.getByName(hostAddress);
        int port = PORT.getAndIncrement();
        ServerSocket server = Netns.inNamespace(vm.ns, () -> new ServerSocket(port, 1, address));
        try (server) {
            CompletableFuture<String> received = TcpTransfer.digestOfNextConnection(server);
            long start = System.nanoTime();
            vm.sh("nc " + hostAddress + " " + port + " < /tmp/tx; rm -f /tmp/tx", 180);
            String got = received.get(60, TimeUnit.SECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("KernelIT: %d MB from the guest (to %s) in %.1f s: %.0f Mbit/s%n", mb, hostAddress,
                seconds, mb * 8 * 1.048576 / seconds);
            assertEquals(expected, got, "the namespace received the guest's stream intact");
        }
    }
}
