package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class NetnsTest {
    @RegisterExtension
    final Namespaces fixture = new Namespaces();

    private static String currentNetns() throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    }

    @Test
    void runsTheBodyInTheNamespaceOnAThreadOfItsOwnAndLeavesTheCallerAlone() throws Exception {
        String ns = fixture.create();
        assertTrue(Netns.list().contains(ns));
        String host = currentNetns();
        String nsInode = Files.getAttribute(Netns.path(ns), "unix:ino").toString();
        String[] inside = Netns.inNamespace(ns, () -> new String[] {currentNetns(), Thread.currentThread().getName()});
        assertNotEquals(host, inside[0]);
        assertEquals("net:[" + nsInode + "]", inside[0]);
        assertEquals("netns " + ns, inside[1]);
        assertEquals(host, currentNetns(), "the caller stays where it was");

        // by path as well as by name
        assertEquals(inside[0], Netns.inNamespace("/var/run/netns/" + ns, NetnsTest::currentNetns));
    }

    @Test
    void rethrowsWhatTheBodyThrows() throws Exception {
        String ns = fixture.create();
        IllegalStateException boom = new IllegalStateException("boom");
        assertSame(boom, assertThrows(IllegalStateException.class, () -> Netns.inNamespace(ns, () -> {
            throw boom;
        })));
        IOException io = new IOException("io");
        assertSame(io, assertThrows(IOException.class, () -> Netns.runIn(ns, () -> {
            throw io;
        })));
        Exception checked = new Exception("checked");
        assertSame(checked, assertThrows(IOException.class, () -> Netns.inNamespace(ns, () -> {
            throw checked;
        })).getCause());
    }

    @Test
    void workPastItsDeadlineFreesTheCallerAndHandsItsLateResultOver() throws Exception {
        String ns = fixture.create();
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CompletableFuture<String> late = new java.util.concurrent.CompletableFuture<>();
        long start = System.nanoTime();
        IOException e = assertThrows(IOException.class, () -> Netns.inNamespace(ns, java.time.Duration.ofMillis(200),
                () -> {
                    while (true) { // a command that ignores interrupts, as a hung one does
                        try {
                            release.await();
                            return "made";
                        } catch (InterruptedException ignored) {
                            // keep waiting
                        }
                    }
                }, late::complete));
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(ms < 2_000, "the caller waited " + ms + " ms");
        assertTrue(e.getMessage().contains("did not finish within 200 ms"), e.getMessage());
        assertFalse(late.isDone());
        release.countDown();
        assertEquals("made", late.get(5, java.util.concurrent.TimeUnit.SECONDS), "the late result is handed over");
        // In time: the result, and nothing late.
        assertEquals(7, Netns.inNamespace(ns, java.time.Duration.ofSeconds(5), () -> 7, x -> {
            throw new AssertionError("late " + x);
        }));
        IllegalStateException boom = new IllegalStateException("boom");
        assertSame(boom, assertThrows(IllegalStateException.class, () -> Netns.inNamespace(ns,
                java.time.Duration.ofSeconds(5), () -> {
                    throw boom;
                }, x -> {})));
    }

    @Test
    void aMissingNamespaceIsAnIOException() {
        var e = assertThrows(IOException.class, () -> Netns.inNamespace("wgtun-missing-" + System.nanoTime(),
                () -> 1));
        assertTrue(e.getMessage().contains("No such file"), e.getMessage());
    }

    @Test
    void aTunCreatedInANamespaceIsSeenThereAndNotInTheHost() throws Exception {
        String ns = fixture.create();
        String name = Root.unique("wgt");
        LinuxTun tun = fixture.closeLater(LinuxTun.createIn(ns, name, 1400));
        assertEquals(name, tun.name());
        assertEquals(ns, tun.netns());
        assertEquals(1400, tun.mtu());

        String shown = Links.in(ns).ip("link", "show", name); // ip -n NS link show NAME
        assertTrue(shown.contains(name) && shown.contains("mtu 1400"), shown);
        assertFalse(Links.host().exists(name), "the host namespace does not see it");
        assertTrue(Netns.inNamespace(ns, () -> Links.host().exists(name)), "ip forked inside the namespace sees it");

        tun.close();
        assertFalse(Links.in(ns).exists(name));
    }

    @Test
    void addsAndDeletesNamedNamespaces() throws Exception {
        String ns = fixture.create();
        assertTrue(Netns.exists(ns));
        Netns.delete(ns);
        assertFalse(Netns.exists(ns));
        assertFalse(Netns.list().contains(ns));
        var e = assertThrows(CommandException.class, () -> Netns.delete(ns));
        assertTrue(e.command().contains("delete") && !e.stderr().isBlank(), e.getMessage());
    }

    @Test
    void tellsANetworkNamespaceFromOtherFiles() throws Exception {
        String ns = fixture.create();
        assertTrue(Netns.isNetworkNamespace(ns));
        assertTrue(Netns.isNetworkNamespace("/proc/self/ns/net"));
        assertFalse(Netns.isNetworkNamespace("/proc/self/ns/uts"), "a namespace, but not a network one");
        Path plain = Files.createTempFile("wgtun-", ".ns");
        try {
            assertFalse(Netns.isNetworkNamespace(plain.toString()));
        } finally {
            Files.delete(plain);
        }
        assertFalse(Netns.isNetworkNamespace("/var/run/netns/wgtun-no-such-namespace"));
        assertFalse(Netns.isNetworkNamespace(""));
    }
}
