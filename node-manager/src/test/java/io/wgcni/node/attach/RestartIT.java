package io.wgcni.node.attach;

import static io.wgcni.node.attach.AttachmentsIT.attach;
import static io.wgcni.node.attach.AttachmentsIT.check;
import static io.wgcni.node.attach.AttachmentsIT.checkPasses;
import static io.wgcni.node.attach.TestNode.exec;
import static io.wgcni.node.attach.TestNode.ping;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.node.attach.Attachments.Attached;
import io.wgcni.tun.Links;
import io.wgcni.tun.LinuxTun;
import io.wgcni.tun.Root;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * node-manager restarts under running containers: the containers' interfaces stay (persistent TUNs), the next
 * node-manager restores their tunnels from its database, and a TCP connection that was running carries on.
 */
class RestartIT {
    private static final long FLOW_BYTES = 48L << 20;
    private TestNode node;
    private Attachments attachments;

    @BeforeEach
    void setUp() throws Exception {
        Root.assumeTunAvailable();
        node = new TestNode();
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            if (attachments != null) {
                attachments.close(true);
            }
        } finally {
            node.close();
        }
    }

    @Test
    void aTcpFlowStartedBeforeARestartCompletesAfterIt() throws Exception {
        node.startHub();
        attachments = node.attachments();
        String nsA = node.container("a");
        String nsB = node.container("b");
        Attached a = attachments.attach(attach("ctr-a", nsA, "eth0"));
        attachments.attach(attach("ctr-b", nsB, "eth0"));
        ping(nsA, "10.100.3.3");

        try (Flow flow = new Flow(nsA, nsB, "10.100.3.3", FLOW_BYTES)) {
            assertTrue(flow.awaitReceivedMoreThan(4L << 20, 30_000), "the flow runs before the restart");

            long t0 = System.nanoTime();
            attachments.close(false);
            node.stopHub(); // wg0 goes too, as it does when node-manager stops
            long before = flow.received();
            assertTrue(Links.in(nsA).exists("eth0"), "the container's interface outlives node-manager");
            assertTrue(exec(nsA, "ip", "-o", "address", "show", "dev", "eth0").contains(a.addresses().getFirst()));

            node.startHub();
            attachments = node.attachments();
            long t1 = System.nanoTime();
            assertEquals(2, attachments.reconcile());
            long t2 = System.nanoTime();
            // The tunnels are back when a ping goes through (within 3 s, or this fails); TCP resumes at its next
            // retransmission, whose timeout has grown with the outage (exponential backoff from 200 ms).
            long ping = TestNode.firstReplyMillis(nsA, "10.100.3.3");
            assertTrue(flow.awaitReceivedMoreThan(Math.max(before, flow.received()), 10_000), "TCP resumes");
            long t3 = System.nanoTime();
            String[] digests = flow.digests(120);
            assertEquals(digests[0], digests[1], "every byte arrived once, in order");
            System.out.printf("restart: down for %d ms (stop %d ms, reconcile %d ms); after reconcile returned, the"
                    + " first ping got through in %d ms and TCP resumed in %d ms%n", ms(t2 - t0), ms(t1 - t0),
                    ms(t2 - t1), ping, ms(t3 - t2));
        }
        assertEquals(a.publicKey(), attachments.attach(attach("ctr-a", nsA, "eth0")).publicKey(),
                "the same key and address after the restart");
        checkPasses(attachments, check("ctr-a", nsA, "eth0"));
        ping(nsB, "fd00:100:0:3::2");
    }

    @Test
    void theRestartDropsAttachmentsWhoseNamespaceOrInterfaceIsGone() throws Exception {
        node.startHub();
        attachments = node.attachments();
        String nsA = node.container("a");
        String nsB = node.container("b");
        String nsC = node.container("c");
        attachments.attach(attach("ctr-a", nsA, "eth0"));
        attachments.attach(attach("ctr-b", nsB, "eth0"));
        attachments.attach(attach("ctr-c", nsC, "eth0"));
        attachments.close(false);
        node.deleteNamespace(nsB);
        Links.in(nsC).delete("eth0");

        attachments = node.attachments();
        assertEquals(1, attachments.reconcile());
        assertEquals(1, attachments.count());
        assertEquals(List.of("10.100.3.3/32", "fd00:100:0:3::3/128"), attachments.allocateClientAddress("laptop"),
                "the dropped attachments' addresses are free again");
        ping(nsA, "10.100.3.1");
        assertFalse(Links.in(nsC).exists("eth0"));
    }

    @Test
    void anAttachmentThatCannotBeRestoredIsKeptUntilDetachRemovesItsInterface() throws Exception {
        node.startHub();
        attachments = node.attachments();
        String ns = node.container("a");
        attachments.attach(attach("ctr-a", ns, "eth0"));
        attachments.close(false);
        // Someone else holds the container's TUN (a node-manager that did not die, say): it cannot be restored.
        try (LinuxTun holder = LinuxTun.openPersistentIn(TestNode.path(ns), "eth0")) {
            assertTrue(holder.isPersistent());
            attachments = node.attachments();
            assertEquals(0, attachments.reconcile());
            assertEquals(1, attachments.count(), "kept, so that Detach still knows what to remove");
            AttachmentException e = assertThrows(AttachmentException.class,
                    () -> attachments.check(check("ctr-a", ns, "eth0")));
            assertEquals(AttachmentException.Kind.WRONG_STATE, e.kind());
            assertTrue(e.getMessage().contains("is not running"), e.getMessage());
        }
        attachments.detach("ctr-a", "eth0");
        assertFalse(Links.in(ns).exists("eth0"), "the persistent interface was removed");
        assertEquals(0, attachments.count());
    }

    /**
     * The real thing: node-manager (a child JVM holding wg0 and the containers' devices, started inside the node's
     * namespace as the daemon is) dies by SIGKILL in the middle of a TCP transfer, and a new one takes over.
     */
    @Test
    void aTcpFlowSurvivesNodeManagerKilledBySigkill() throws Exception {
        String nsA = node.container("a");
        String nsB = node.container("b");
        List<String> args = new ArrayList<>(List.of(node.dataDir.toString(), node.hubName, node.hubKey.toBase64(),
                "0", "ctr-a=" + TestNode.path(nsA), "ctr-b=" + TestNode.path(nsB)));
        Child first = Child.start(node.ns, args);
        try {
            args.set(3, Integer.toString(first.port));
            ping(nsA, "10.100.3.3");
            try (Flow flow = new Flow(nsA, nsB, "10.100.3.3", FLOW_BYTES)) {
                assertTrue(flow.awaitReceivedMoreThan(4L << 20, 30_000));
                long t0 = System.nanoTime();
                first.process.destroyForcibly(); // SIGKILL
                first.process.waitFor();
                long before = flow.received();
                assertTrue(Links.in(nsA).exists("eth0"), "the container's interface outlives node-manager");

                Child second = Child.start(node.ns, args);
                try {
                    long t1 = System.nanoTime();
                    assertEquals(2, second.restored);
                    long ping = TestNode.firstReplyMillis(nsA, "10.100.3.3");
                    assertTrue(flow.awaitReceivedMoreThan(Math.max(before, flow.received()), 10_000), "TCP resumes");
                    long t2 = System.nanoTime();
                    String[] digests = flow.digests(120);
                    assertEquals(digests[0], digests[1]);
                    System.out.printf("SIGKILL: the new node-manager was ready %d ms after the kill (JVM start"
                            + " included; its reconcile took %d ms); after that the first ping got through in %d ms"
                            + " and TCP resumed in %d ms%n", ms(t1 - t0), second.reconcileMillis, ping, ms(t2 - t1));
                    ping(nsB, "10.100.3.2");
                } finally {
                    second.stop(true);
                }
            }
            assertFalse(Links.in(nsA).exists("eth0"), "detached on the way out");
            assertFalse(Links.in(nsB).exists("eth0"));
        } finally {
            first.process.destroyForcibly();
        }
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    /** A {@link NodeProcess} started with {@code ip netns exec}: in the node's namespace, like the daemon. */
    private record Child(Process process, int port, int restored, long reconcileMillis, Writer stdin) {
        static Child start(String netns, List<String> args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", netns,
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    NodeProcess.class.getName()));
            cmd.addAll(args);
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = out.readLine()) != null && !line.startsWith("READY ")) {
                System.out.println("node-manager: " + line);
            }
            if (line == null) {
                p.destroyForcibly();
                throw new AssertionError("the child node-manager exited before it was ready: " + p.waitFor());
            }
            String[] f = line.split(" ");
            Thread.ofPlatform().daemon()
                    .start(() -> out.lines().forEach(l -> System.out.println("node-manager: " + l)));
            return new Child(p, Integer.parseInt(f[1]), Integer.parseInt(f[2]), Long.parseLong(f[3]),
                    new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8));
        }

        void stop(boolean removeTunnels) throws Exception {
            stdin.write(removeTunnels ? "remove\n" : "keep\n");
            stdin.flush();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the child node-manager did not stop");
            }
        }
    }
}
