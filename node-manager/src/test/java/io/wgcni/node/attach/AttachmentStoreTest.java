package io.wgcni.node.attach;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.node.attach.AttachmentStore.Attachment;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Hop;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.time.SystemClock;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AttachmentStoreTest {
    /** Made per JUnit test; jqwik's property, which runs no JUnit callbacks, makes its own. */
    private Path dir;

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory("na-store-");
    }

    @AfterEach
    void cleanup() throws IOException {
        delete(dir);
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @Test
    void givesTheLowestFreeSlotOncePerOwnerAndTakesItBack() throws Exception {
        try (AttachmentStore store = new AttachmentStore(dir, 2, 254)) {
            assertEquals(OptionalInt.of(2), store.allocate("container:a/eth0"));
            assertEquals(OptionalInt.of(3), store.allocate("container:b/eth0"));
            assertEquals(OptionalInt.of(4), store.allocate("client:laptop"));
            assertEquals(OptionalInt.of(3), store.allocate("container:b/eth0"), "idempotent per owner");
            assertTrue(store.release("container:b/eth0"));
            assertFalse(store.release("container:b/eth0"), "released already");
            assertEquals(OptionalInt.empty(), store.slotOf("container:b/eth0"));
            assertEquals(OptionalInt.of(3), store.allocate("container:c/eth0"), "the lowest free again");
            assertEquals(Map.of("container:a/eth0", 2, "container:c/eth0", 3, "client:laptop", 4), store.allocations());
        }
    }

    @Test
    void saysWhenEverySlotIsTaken() throws Exception {
        try (AttachmentStore store = new AttachmentStore(dir, 2, 4)) {
            for (int i = 0; i < 3; i++) {
                assertTrue(store.allocate("client:" + i).isPresent());
            }
            assertEquals(OptionalInt.empty(), store.allocate("client:3"));
            store.release("client:1");
            assertEquals(OptionalInt.of(3), store.allocate("client:3"));
        }
    }

    @Test
    void keepsAttachmentsAndAllocationsAcrossAReopenInAFileOnlyRootCanRead() throws Exception {
        String key = X25519.generatePrivateKey().toBase64();
        Path fresh = dir.resolve("data/attachments");
        new AttachmentStore(fresh, 2, 254).close();
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)),
                "a directory it creates is the owner's alone");
        try (AttachmentStore store = new AttachmentStore(dir, 2, 254)) {
            int slot = store.allocate("container:abc/eth0").getAsInt();
            store.save(new Attachment("abc", "eth0", "/var/run/netns/x", slot, key, 0, 1400, 1234, "net-a"));
            store.save(new Attachment("abc", "eth0", "/var/run/netns/x", slot, key, 40001, 1400, 1234, "net-a"));
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                dir.resolve(AttachmentStore.FILE_NAME))));
        try (AttachmentStore store = new AttachmentStore(dir, 2, 254)) {
            Attachment a = store.attachment("abc", "eth0").orElseThrow();
            assertEquals(new Attachment("abc", "eth0", "/var/run/netns/x", 2, key, 40001, 1400, 1234, "net-a"), a);
            assertFalse(a.toString().contains(key), "no private key in toString");
            assertEquals(OptionalInt.of(3), store.allocate("container:def/eth0"), "slot 2 is still taken");
            store.remove("abc", "eth0");
            assertTrue(store.attachment("abc", "eth0").isEmpty());
            assertEquals(OptionalInt.empty(), store.slotOf("container:abc/eth0"), "removing frees the slot");
        }
        try (AttachmentStore store = new AttachmentStore(dir, 2, 254)) {
            assertEquals(List.of(), store.attachments());
            assertEquals(OptionalInt.of(2), store.allocate("container:ghi/eth0"));
        }
    }

    @Test
    void aDatabaseFromBeforeNetworksWereKeptOpensWithItsAttachmentsInNoNetwork() throws Exception {
        String key = X25519.generatePrivateKey().toBase64();
        try (java.sql.Connection db = java.sql.DriverManager.getConnection("jdbc:sqlite:"
                + dir.resolve(AttachmentStore.FILE_NAME).toAbsolutePath());
                java.sql.Statement s = db.createStatement()) {
            s.execute("CREATE TABLE allocations (slot INTEGER PRIMARY KEY, owner TEXT NOT NULL UNIQUE)");
            s.execute("CREATE TABLE attachments (container_id TEXT NOT NULL, ifname TEXT NOT NULL, netns TEXT NOT NULL,"
                    + " slot INTEGER NOT NULL, private_key TEXT NOT NULL, port INTEGER NOT NULL, mtu INTEGER NOT NULL,"
                    + " created INTEGER NOT NULL, PRIMARY KEY (container_id, ifname))");
            s.execute("INSERT INTO allocations VALUES (2, 'container:old/eth0')");
            s.execute("INSERT INTO attachments VALUES ('old', 'eth0', '/var/run/netns/x', 2, '" + key
                    + "', 40000, 1400, 1)");
        }
        try (AttachmentStore store = new AttachmentStore(dir, 2, 254)) {
            assertEquals(new Attachment("old", "eth0", "/var/run/netns/x", 2, key, 40000, 1400, 1, ""),
                    store.attachment("old", "eth0").orElseThrow());
            store.save(new Attachment("new", "eth1", "/var/run/netns/x", 3, key, 0, 1400, 2, "net-b"));
        }
        try (AttachmentStore store = new AttachmentStore(dir, 2, 254)) {
            assertEquals(List.of("", "net-b"), store.attachments().stream().map(Attachment::network).toList());
        }
    }

    /** An operation on the store: allocate or release one of a few owners, or close and reopen (a crash). */
    record Op(char kind, int owner) {}

    @Provide
    Arbitrary<List<Op>> operations() {
        Arbitrary<Op> op = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.integers().between(0, 11).map(i -> new Op('a', i))),
                net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(0, 11).map(i -> new Op('r', i))),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new Op('o', 0))));
        return op.list().ofMinSize(1).ofMaxSize(60);
    }

    /**
     * Against a model (owner to slot, lowest free first, 8 slots for 12 owners): the store never gives a slot to
     * two owners, keeps an owner's slot until it is released, and forgets nothing when reopened.
     */
    @Property(tries = 60)
    void neverHandsOutASlotTwiceEvenAcrossReopens(@ForAll("operations") List<Op> ops) throws Exception {
        Path d = Files.createTempDirectory("na-prop-");
        Map<String, Integer> model = new HashMap<>();
        AttachmentStore store = new AttachmentStore(d, 2, 9);
        try {
            for (Op op : ops) {
                String owner = "container:" + op.owner() + "/eth0";
                switch (op.kind()) {
                    case 'a' -> {
                        OptionalInt got = store.allocate(owner);
                        Integer had = model.get(owner);
                        if (had != null) {
                            assertEquals(OptionalInt.of(had), got);
                        } else {
                            TreeSet<Integer> free = new TreeSet<>();
                            for (int s = 2; s <= 9; s++) {
                                free.add(s);
                            }
                            free.removeAll(model.values());
                            assertEquals(free.isEmpty() ? OptionalInt.empty() : OptionalInt.of(free.first()), got);
                            got.ifPresent(s -> model.put(owner, s));
                        }
                    }
                    case 'r' -> assertEquals(model.remove(owner) != null, store.release(owner));
                    default -> {
                        store.close();
                        store = new AttachmentStore(d, 2, 9);
                    }
                }
                Set<Integer> slots = new HashSet<>(store.allocations().values());
                assertEquals(store.allocations().size(), slots.size(), "a slot held twice");
                assertEquals(model, store.allocations());
            }
        } finally {
            store.close();
            delete(d);
        }
    }

    // ---- through Attachments: the client addresses the daemon hands out ----

    private static Device memoryHub() {
        Device hub = new Device("na-hub", new MemoryTun("na-hub", 1420),
                new Hop.Hub(new MemoryNetwork().newBind(InetAddress.getLoopbackAddress()), false),
                SystemClock.INSTANCE, 1);
        hub.setPrivateKey(X25519.generatePrivateKey());
        return hub;
    }

    @Test
    void clientAddressesAreDurableIdempotentAndRunOutRefused() throws Exception {
        NodeNetwork net = NodeNetwork.of(Prefix.parse("10.100.3.0/29"), Prefix.parse("fd00:100:0:3::/64"), 1400);
        Device hub = memoryHub();
        try {
            List<List<String>> given = new ArrayList<>();
            try (Attachments a = new Attachments(dir, net, hub)) {
                given.add(a.allocateClientAddress("laptop"));
                assertEquals(List.of("10.100.3.2/32", "fd00:100:0:3::2/128"), given.getFirst());
                assertEquals(given.getFirst(), a.allocateClientAddress("laptop"));
                for (int i = 0; i < 4; i++) {
                    given.add(a.allocateClientAddress("c" + i));
                }
                AttachmentException full = assertThrows(AttachmentException.class,
                        () -> a.allocateClientAddress("one-more"));
                assertEquals(AttachmentException.Kind.EXHAUSTED, full.kind());
                assertEquals("no free address in 10.100.3.0/29", full.getMessage());
                assertEquals(AttachmentException.Kind.INVALID,
                        assertThrows(AttachmentException.class, () -> a.allocateClientAddress("")).kind());
            }
            try (Attachments a = new Attachments(dir, net, hub)) {
                assertEquals(0, a.reconcile(), "clients are not containers: nothing to restore or drop");
                assertEquals(given.get(2), a.allocateClientAddress("c1"), "the same address after a restart");
                a.releaseClientAddress("c1");
                assertEquals(given.get(2), a.allocateClientAddress("other"), "released, then given again");
            }
        } finally {
            hub.close();
        }
    }

    @Test
    void theNodeNetworkRefusesWhatCannotWork() {
        Prefix v4 = Prefix.parse("10.100.3.0/24");
        assertThrows(IllegalArgumentException.class, () -> NodeNetwork.of(Prefix.parse("10.100.3.0/31"), null, 1400));
        assertThrows(IllegalArgumentException.class, () -> NodeNetwork.of(Prefix.parse("fd00::/64"), null, 1400));
        assertThrows(IllegalArgumentException.class, () -> NodeNetwork.of(v4, Prefix.parse("fd00::/124"), 1400));
        assertThrows(IllegalArgumentException.class, () -> NodeNetwork.of(v4, null, 1000));
        assertThrows(IllegalArgumentException.class, () -> new NodeNetwork(v4, null,
                io.wgcni.wg.io.InetAddresses.parse("10.100.3.2"), null, 1400));
        NodeNetwork n = NodeNetwork.of(v4, Prefix.parse("fd00:100:0:3::/64"), 1400);
        assertEquals(2, n.firstSlot());
        assertEquals(254, n.lastSlot());
        assertEquals("10.100.3.254", n.addressV4(254).getHostAddress());
        assertEquals(io.wgcni.wg.io.InetAddresses.parse("fd00:100:0:3::fe"), n.addressV6(254));
    }
}
