package io.wgcni.node.attach;

import static io.wgcni.node.attach.AttachmentsIT.attach;
import static io.wgcni.node.attach.TestNode.ping;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.tun.Root;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Container to container on one node under each of node-manager's data-path settings: the in-process hop sealed
 * or not, and packets between wg0's peers passed inside wg0 or through the kernel's forwarding (where netfilter
 * sees them). Every combination carries pings and a TCP transfer intact, and the packets take the way the
 * setting says: wg0's forwarded count grows only when wg0 forwards.
 */
class DataPathIT {
    private static final long BYTES = 32L << 20;

    @ParameterizedTest(name = "sealHop={0}, kernelForwarding={1}")
    @CsvSource({"false,false", "true,false", "false,true", "true,true"})
    void containersTalkUnderEverySetting(boolean sealHop, boolean kernelForwarding) throws Exception {
        Root.assumeTunAvailable();
        try (TestNode node = new TestNode()) {
            node.sealHop = sealHop;
            node.kernelForwarding = kernelForwarding;
            node.startHub();
            assertEquals(sealHop, node.hub.hop().sealed());
            String a = node.container("a");
            String b = node.container("b");
            try (Attachments attachments = node.attachments()) {
                attachments.attach(attach("a", a, "eth0"));
                attachments.attach(attach("b", b, "eth0"));
                ping(a, "10.100.3.3");
                ping(a, "fd00:100:0:3::3");
                long forwardedBefore = node.hub.stats().forwarded();
                long start = System.nanoTime();
                try (Flow flow = new Flow(a, b, "10.100.3.3", BYTES)) {
                    String[] digests = flow.digests(60);
                    assertArrayEquals(new String[] {digests[0], digests[0]}, digests, "what arrived is what was sent");
                }
                double mbit = BYTES * 8 / ((System.nanoTime() - start) / 1e9) / 1e6;
                long forwarded = node.hub.stats().forwarded() - forwardedBefore;
                System.out.printf("sealHop=%s kernelForwarding=%s: %d MiB container to container on one node in"
                        + " %.0f Mbit/s, %d packets forwarded inside wg0%n", sealHop, kernelForwarding, BYTES >> 20,
                        mbit, forwarded);
                if (kernelForwarding) {
                    assertEquals(0, forwarded, "every packet went through the kernel");
                } else {
                    assertTrue(forwarded > 0, "wg0 passed the packets between the containers itself");
                }
                // (disallowed_source may count the containers' IPv6 link-local chatter: MLD, router solicitations.)
                for (String drop : new String[] {"bad_tag", "replayed", "invalid_inner_packet", "unknown_index",
                        "internal_errors", "hop_no_spoke"}) {
                    assertEquals(0, node.hub.counters().get(drop), drop + ": " + node.hub.counters());
                }
            }
        }
    }
}
