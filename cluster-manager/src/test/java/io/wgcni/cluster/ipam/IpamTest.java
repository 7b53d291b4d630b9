package io.wgcni.cluster.ipam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.cluster.store.SqliteStore;
import io.wgcni.cluster.store.Store;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IpamTest {
    @TempDir
    Path dir;

    private static String v4(Ipam ipam, String node) {
        return ipam.allocate(node).join().v4().toString();
    }

    private static void release(Store store, Ipam ipam, String node) {
        Ipam.Allocation a = ipam.get(node).orElseThrow();
        assertTrue(store.commit(new Store.Txn(List.of(new Store.Compare(a.key(), a.modRevision())), Ipam.releaseOps(a)))
                .join().succeeded());
    }

    @Test
    void allocatesOncePerNodePrefersNeverUsedSubnetsAndSurvivesRestart() {
        Path file = dir.resolve("s.db");
        try (SqliteStore store = new SqliteStore(file, 64)) {
            Ipam ipam = new Ipam(store, Ipam.settle(store, "10.5.0.0/24", 26, null, null));
            assertEquals("10.5.0.0/26", v4(ipam, "a"));
            assertEquals("10.5.0.0/26", v4(ipam, "a"));
            assertEquals("10.5.0.64/26", v4(ipam, "b"));
            release(store, ipam, "a");
            assertEquals("10.5.0.128/26", v4(ipam, "c"));
            assertEquals(2, ipam.allocatedCount());
        }
        try (SqliteStore store = new SqliteStore(file, 64)) {
            // Settings come from the store; the released subnet is still known as released.
            Ipam ipam = new Ipam(store, Ipam.settle(store, null, null, null, null));
            assertEquals("10.5.0.64/26", v4(ipam, "b"));
            assertEquals("10.5.0.192/26", v4(ipam, "d"));
            assertEquals("10.5.0.0/26", v4(ipam, "e"));
            CompletionException e = assertThrows(CompletionException.class, () -> ipam.allocate("f").join());
            assertSame(SubnetsExhaustedException.class, e.getCause().getClass());
            assertEquals(4, ipam.allocatedCount());
        }
    }

    @Test
    void settingsAreFixedAtCreation() {
        try (SqliteStore store = new SqliteStore(dir.resolve("s.db"), 64)) {
            IpamSettings first = Ipam.settle(store, null, null, "fd00:1::/48", null);
            assertEquals("10.100.0.0/16", first.v4().toString());
            assertEquals(24, first.v4Length());
            assertEquals(64, first.v6Length());
            assertEquals(first, Ipam.settle(store, "10.100.0.0/16", 24, null, 64));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Ipam.settle(store, null, 25, "", null));
            assertTrue(e.getMessage().contains("--node-prefix-length 24 (given 25)"), e.getMessage());
            assertTrue(e.getMessage().contains("--cluster-cidr-v6 'fd00:1::/48' (given '')"), e.getMessage());
        }
    }

    @Test
    void rejectsNonsensicalSettings() {
        try (SqliteStore store = new SqliteStore(dir.resolve("s.db"), 64)) {
            assertThrows(IllegalArgumentException.class, () -> Ipam.settle(store, "10.0.0.0/24", 16, null, null));
            assertThrows(IllegalArgumentException.class, () -> Ipam.settle(store, "fd00::/48", null, null, null));
            assertThrows(IllegalArgumentException.class, () -> Ipam.settle(store, null, null, "10.0.0.0/8", null));
            assertTrue(store.get("ipam/config").isEmpty());
        }
    }
}
