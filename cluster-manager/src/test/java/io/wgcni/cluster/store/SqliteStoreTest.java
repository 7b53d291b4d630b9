package io.wgcni.cluster.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.cluster.store.Store.Compare;
import io.wgcni.cluster.store.Store.Delete;
import io.wgcni.cluster.store.Store.Event;
import io.wgcni.cluster.store.Store.Put;
import io.wgcni.cluster.store.Store.Txn;
import io.wgcni.cluster.store.Store.TxnResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteStoreTest {
    @TempDir
    Path dir;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static TxnResult put(Store s, String key, String value, long expectRevision) {
        return s.commit(new Txn(List.of(new Compare(key, expectRevision)), List.of(new Put(key, b(value))))).join();
    }

    @Test
    void compareAndSetGivesEachChangeTheNextRevision() {
        try (SqliteStore s = new SqliteStore(dir.resolve("s.db"), 64)) {
            assertEquals(new TxnResult(true, 1), put(s, "a", "1", 0));
            assertEquals(new TxnResult(false, 1), put(s, "a", "2", 0));
            assertEquals(new TxnResult(true, 2), put(s, "a", "2", 1));
            assertEquals(new TxnResult(false, 2), put(s, "a", "3", 1));
            assertArrayEquals(b("2"), s.get("a").orElseThrow().value());
            assertEquals(2, s.get("a").orElseThrow().modRevision());
            // Deleting a missing key changes nothing and takes no revision.
            assertEquals(new TxnResult(true, 2), s.commit(new Txn(List.of(), List.of(new Delete("zz")))).join());
            // Several ops in one txn share one revision.
            assertEquals(new TxnResult(true, 3), s.commit(new Txn(List.of(),
                    List.of(new Put("b/1", b("x")), new Put("b/2", b("y")), new Delete("a")))).join());
            assertTrue(s.get("a").isEmpty());
            Store.Range r = s.range("b/");
            assertEquals(List.of("b/1", "b/2"), r.kvs().stream().map(Store.KeyValue::key).toList());
            assertEquals(3, r.revision());
            assertEquals(3, s.revision());
        }
    }

    @Test
    void historyIsKeptAcrossReopenAndTrimmed() {
        Path file = dir.resolve("s.db");
        try (SqliteStore s = new SqliteStore(file, 64, 10)) {
            for (int i = 1; i <= 5; i++) {
                put(s, (i % 2 == 0 ? "p/" : "q/") + i, "v" + i, 0);
            }
        }
        try (SqliteStore s = new SqliteStore(file, 64, 10)) {
            assertEquals(5, s.revision());
            Store.History h = s.history(1, "p/").orElseThrow();
            assertEquals(List.of(2L, 4L), h.events().stream().map(Event::revision).toList());
            assertEquals(5, h.revision());
            assertEquals(List.of(), s.history(5, "p/").orElseThrow().events());
            assertTrue(s.history(6, "p/").isEmpty(), "a revision from the future");
            for (int i = 6; i <= 30; i++) {
                put(s, "p/" + i, "v", 0);
            }
            assertTrue(s.history(1, "p/").isEmpty(), "trimmed");
            assertEquals(List.of(30L),
                    s.history(29, "p/").orElseThrow().events().stream().map(Event::revision).toList());
        }
        assertEquals("rw-------", PosixFilePermissions.toString(posix(file)));
    }

    private static java.util.Set<java.nio.file.attribute.PosixFilePermission> posix(Path p) {
        try {
            return Files.getPosixFilePermissions(p);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void concurrentCompetingTransactionsInOneBatchSeeEachOther() throws Exception {
        try (SqliteStore s = new SqliteStore(dir.resolve("s.db"), 256)) {
            List<Event> seen = Collections.synchronizedList(new ArrayList<>());
            s.listen(seen::addAll);
            List<CompletableFuture<TxnResult>> all = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                // Every txn claims the same key; exactly one may win, whatever the batching.
                all.add(s.commit(new Txn(List.of(Compare.absent("claim")),
                        List.of(new Put("claim", b("" + i)), new Put("k/" + i, b(""))))));
            }
            long won = all.stream().map(CompletableFuture::join).filter(TxnResult::succeeded).count();
            assertEquals(1, won);
            assertEquals(2, seen.size());
            assertEquals(1, s.revision());
        }
    }

    @Test
    void listenersSeeEveryChangeInRevisionOrderBeforeTheCommitCompletes() {
        try (SqliteStore s = new SqliteStore(dir.resolve("s.db"), 8)) {
            List<Long> seen = Collections.synchronizedList(new ArrayList<>());
            s.listen(events -> events.forEach(e -> seen.add(e.revision())));
            List<CompletableFuture<TxnResult>> all = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                int n = i;
                all.add(s.commit(new Txn(List.of(), List.of(new Put("k/" + i, b("v"))))).thenApply(r -> {
                    assertTrue(seen.contains(r.revision()), "event " + n + " published before its ack");
                    return r;
                }));
            }
            all.forEach(CompletableFuture::join);
            List<Long> expected = new ArrayList<>();
            for (long r = 1; r <= 100; r++) {
                expected.add(r);
            }
            assertEquals(expected, seen);
        }
    }

    @Test
    void aClosedStoreRefusesWrites() {
        SqliteStore s = new SqliteStore(dir.resolve("s.db"), 8);
        s.close();
        assertTrue(s.commit(new Txn(List.of(), List.of(new Put("a", b("")))))
                .handle((r, e) -> e != null).join());
    }
}
