package io.wgcni.cluster.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.cluster.store.Store.Compare;
import io.wgcni.cluster.store.Store.Delete;
import io.wgcni.cluster.store.Store.Event;
import io.wgcni.cluster.store.Store.Put;
import io.wgcni.cluster.store.Store.Txn;
import io.wgcni.cluster.store.Store.TxnResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** EtcdStore against a real 3-member etcd on loopback. */
class EtcdStoreTest {
    @TempDir
    static Path dir;
    static EtcdCluster etcd;
    private static final AtomicInteger prefixes = new AtomicInteger();

    @BeforeAll
    static void startEtcd() throws Exception {
        EtcdCluster.assumeInstalled();
        etcd = EtcdCluster.start(dir, 3);
    }

    @AfterAll
    static void stopEtcd() throws Exception {
        if (etcd != null) {
            etcd.close();
        }
    }

    static String freshPrefix() {
        return "/t" + prefixes.incrementAndGet() + "-" + System.nanoTime() + "/";
    }

    static EtcdStore open(String prefix) {
        EtcdStore s = EtcdStore.open(etcd.config(prefix), Duration.ofSeconds(10));
        s.start("test-" + System.nanoTime(), "test");
        return s;
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static TxnResult put(Store s, String key, String value, long expectRevision) {
        return s.commit(new Txn(List.of(new Compare(key, expectRevision)), List.of(new Put(key, b(value))))).join();
    }

    @Test
    void compareAndSetUsesEtcdRevisions() {
        try (EtcdStore s = open(freshPrefix())) {
            TxnResult first = put(s, "a", "1", 0);
            assertTrue(first.succeeded());
            long r1 = first.revision();
            assertEquals(r1, s.get("a").orElseThrow().modRevision());
            assertFalse(put(s, "a", "2", 0).succeeded(), "absent compare on a present key");
            TxnResult second = put(s, "a", "2", r1);
            assertTrue(second.succeeded());
            assertTrue(second.revision() > r1);
            assertFalse(put(s, "a", "3", r1).succeeded(), "a stale mod revision");
            assertArrayEquals(b("2"), s.get("a").orElseThrow().value());
            // Several ops in one txn share one revision.
            TxnResult multi = s.commit(new Txn(List.of(),
                    List.of(new Put("b/1", b("x")), new Put("b/2", b("y")), new Delete("a")))).join();
            assertTrue(multi.succeeded());
            assertTrue(s.get("a").isEmpty());
            Store.Range r = s.range("b/");
            assertEquals(List.of("b/1", "b/2"), r.kvs().stream().map(Store.KeyValue::key).toList());
            assertEquals(List.of(multi.revision(), multi.revision()),
                    r.kvs().stream().map(Store.KeyValue::modRevision).toList());
            assertTrue(r.revision() >= multi.revision());
            assertTrue(s.revision() >= multi.revision(), "the watch delivered the commit before it was acknowledged");
            assertEquals(List.of(), s.range("zz/").kvs());
        }
    }

    @Test
    void everyReplicaHearsEveryCommitInOrderAndBeforeItsAcknowledgement() throws Exception {
        String prefix = freshPrefix();
        try (EtcdStore a = open(prefix); EtcdStore b = open(prefix)) {
            List<Event> heardByA = Collections.synchronizedList(new ArrayList<>());
            List<Event> heardByB = Collections.synchronizedList(new ArrayList<>());
            a.listen(heardByA::addAll);
            b.listen(heardByB::addAll);
            List<Long> revisions = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                Store writer = i % 2 == 0 ? a : b;
                TxnResult r = put(writer, "k/" + i, "v" + i, 0);
                assertTrue(r.succeeded());
                revisions.add(r.revision());
                List<Event> own = writer == a ? heardByA : heardByB;
                assertTrue(own.stream().anyMatch(e -> e.revision() == r.revision()), "heard before acknowledged");
            }
            long last = revisions.getLast();
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while ((a.revision() < last || b.revision() < last) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            for (List<Event> heard : List.of(heardByA, heardByB)) {
                List<Long> kRevisions =
                        heard.stream().filter(e -> e.key().startsWith("k/")).map(Event::revision).toList();
                assertEquals(revisions, kRevisions, "every change, in revision order, once");
            }
            a.commit(new Txn(List.of(), List.of(new Delete("k/0")))).join();
            assertTrue(heardByA.getLast().isDelete());
        }
    }

    @Test
    void historyHoldsEveryEventOfItsLastRevisionEvenBehindAnotherKeyOfTheSameTransaction() throws Exception {
        // A registration writes its key claim and its peer in one transaction: a history that stopped at the
        // first event of that revision lost the peer, and a watcher resuming on another replica never saw it.
        String prefix = freshPrefix();
        try (EtcdStore a = open(prefix)) {
            long before = a.revision();
            var r = a.commit(new Store.Txn(List.of(), List.of(new Store.Put("k/claim", "x".getBytes()),
                    new Store.Put("p/peer", "y".getBytes())))).join();
            assertTrue(r.succeeded());
            Store.History h = a.history(before, "p/").orElseThrow();
            assertEquals(List.of("p/peer"), h.events().stream().map(Event::key).toList());
        }
    }

    @Test
    void historyComesFromEtcdWhicheverReplicaWroteIt() throws Exception {
        String prefix = freshPrefix();
        long before;
        List<Long> written = new ArrayList<>();
        try (EtcdStore a = open(prefix)) {
            before = a.revision();
            for (int i = 1; i <= 6; i++) {
                written.add(put(a, (i % 2 == 0 ? "p/" : "q/") + i, "v" + i, 0).revision());
            }
        }
        // A replica started after the changes still has them, from etcd.
        try (EtcdStore b = open(prefix)) {
            Store.History h = b.history(before, "p/").orElseThrow();
            assertEquals(List.of(written.get(1), written.get(3), written.get(5)),
                    h.events().stream().map(Event::revision).toList());
            assertEquals(b.revision(), h.revision());
            assertEquals(List.of(), b.history(b.revision(), "p/").orElseThrow().events());
            assertTrue(b.history(b.revision() + 1_000_000, "p/").isEmpty(), "a revision from the future");
            // Compacted history is gone: the caller gets nothing and starts from a range.
            try (var client = io.etcd.jetcd.Client.builder().endpoints("http://127.0.0.1:" + etcd.clientPort(0)).build()) {
                client.getKVClient().compact(written.get(4)).get();
            }
            assertTrue(b.history(before, "p/").isEmpty(), "compacted");
            assertEquals(List.of(written.get(5)),
                    b.history(written.get(4), "p/").orElseThrow().events().stream().map(Event::revision).toList());
        }
    }

    @Test
    void aStoreOfAnotherClusterOrLayoutIsRefusedAndLeftAsItWas() {
        String prefix = freshPrefix();
        byte[] ca = new byte[32];
        byte[] otherCa = new byte[32];
        otherCa[0] = 1;
        try (EtcdStore s = EtcdStore.open(etcd.config(prefix), Duration.ofSeconds(10))) {
            Layout.claim(s, ca, "here", false);
            Layout.claim(s, ca, "here", false);   // the same cluster again: fine
            long marked = s.get(Layout.KEY).orElseThrow().modRevision();
            IllegalStateException e =
                    assertThrows(IllegalStateException.class, () -> Layout.claim(s, otherCa, "here", false));
            assertTrue(e.getMessage().contains("belongs to another cluster"), e.getMessage());
            assertEquals(marked, s.get(Layout.KEY).orElseThrow().modRevision(), "nothing written");
        }
        String foreign = freshPrefix();
        try (EtcdStore s = EtcdStore.open(etcd.config(foreign), Duration.ofSeconds(10))) {
            assertTrue(put(s, "something/else", "x", 0).succeeded());
            IllegalStateException e =
                    assertThrows(IllegalStateException.class, () -> Layout.claim(s, ca, "there", false));
            assertTrue(e.getMessage().contains("no wgcni cluster marker"), e.getMessage());
            assertTrue(s.get(Layout.KEY).isEmpty(), "nothing written");
            assertTrue(put(s, Layout.KEY, "wgcni layout=7 ca=sha256:00", 0).succeeded());
            e = assertThrows(IllegalStateException.class, () -> Layout.claim(s, ca, "there", false));
            assertTrue(e.getMessage().contains("layout 7"), e.getMessage());
        }
    }

    @Test
    void anEndpointThatIsDownIsNamedAndTheOthersServe() throws Exception {
        int dead;
        try (var socket = new java.net.ServerSocket(0)) {
            dead = socket.getLocalPort();
        }
        EtcdStore.Config mixed =
                EtcdStore.Config.parse("etcd://127.0.0.1:" + dead + "," + etcd.endpoints() + freshPrefix());
        try (EtcdStore s = EtcdStore.open(mixed, Duration.ofSeconds(5))) {
            s.start("mixed", "test");
            assertTrue(put(s, "x", "1", 0).succeeded());
        }
        EtcdStore.Config none = EtcdStore.Config.parse("etcd://127.0.0.1:" + dead + freshPrefix());
        long start = System.nanoTime();
        StoreException e = assertThrows(StoreException.class, () -> EtcdStore.open(none, Duration.ofSeconds(2)));
        assertTrue(e.getMessage().contains("127.0.0.1:" + dead), e.getMessage());
        assertTrue(System.nanoTime() - start >= Duration.ofSeconds(2).toNanos(), "it retried until the wait ran out");
        assertThrows(IllegalArgumentException.class, () -> EtcdStore.Config.parse("etcd://nohostport"));
        assertThrows(IllegalArgumentException.class, () -> EtcdStore.Config.parse("mysql://x:1"));
    }

    @Test
    void losingOneMemberChangesNothingLosingTwoStopsWritesUntilOneReturns() throws Exception {
        String prefix = freshPrefix();
        try (EtcdStore s = open(prefix)) {
            assertTrue(put(s, "before", "1", 0).succeeded());
            // The leader, the worst one to lose: writes in flight wait for the election.
            int leader = etcd.leader();
            etcd.kill(leader);
            int other = (leader + 1) % 3;
            try {
                long t0 = System.nanoTime();
                TxnResult after = null;
                while (after == null && System.nanoTime() - t0 < Duration.ofSeconds(15).toNanos()) {
                    try {
                        after = put(s, "one-down", "1", 0);
                    } catch (CompletionException duringElection) {
                        // UNAVAILABLE to the caller; nothing acknowledged
                    }
                }
                assertTrue(after != null && after.succeeded(), "a majority is left");
                System.out.printf("writes resumed %d ms after the etcd leader was killed%n",
                        (System.nanoTime() - t0) / 1_000_000);
                for (int i = 0; i < 20; i++) {
                    assertTrue(put(s, "one-down/" + i, "1", 0).succeeded(), "every write at the first try");
                }
                etcd.kill(other);
                long t1 = System.nanoTime();
                CompletionException e = assertThrows(CompletionException.class, () -> put(s, "two-down", "1", 0));
                assertTrue(e.getCause() instanceof StoreException, e.toString());
                assertTrue(System.nanoTime() - t1 < Duration.ofSeconds(12).toNanos(),
                        "the write fails in bounded time");
                // Reads say what the remaining member has.
                assertArrayEquals(b("1"), s.get("one-down").orElseThrow().value());
                assertEquals(22,
                        s.range("").kvs().stream().filter(kv -> !kv.key().startsWith(EtcdStore.REPLICAS)).count());
                etcd.restart(other);
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                TxnResult back = null;
                while (back == null && System.nanoTime() < deadline) {
                    try {
                        back = put(s, "back", "1", 0);
                    } catch (CompletionException notYet) {
                        Thread.sleep(200);
                    }
                }
                assertTrue(back != null && back.succeeded(), "writes resume once a majority is back");
            } finally {
                etcd.restart(leader);
                etcd.restart(other);
            }
        }
    }
}
