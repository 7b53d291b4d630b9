package io.wgcni.cluster.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded store: one SQLite file in WAL mode with synchronous=FULL, so a committed transaction survives a
 * kill -9 or a power cut.
 *
 * <p>Group commit: one writer thread drains the queue of pending transactions and applies up to
 * {@code maxBatch} of them in one SQLite transaction, each checked against the state the previous ones left.
 * One fsync then makes the whole batch durable, and only then are their futures completed. Under load this turns
 * one fsync per change into one fsync per batch; alone, a change pays the same single fsync as without it.
 *
 * <p>Reads go through a second connection, which sees only committed data (WAL readers do not block the writer).
 * Other processes (the {@code token} command) may write the same file: the revision is read from the database
 * at the start of every batch, and SQLite's lock serialises the writers.
 */
public final class SqliteStore implements Store {
    private static final Logger log = LoggerFactory.getLogger(SqliteStore.class);
    /** How many revisions of history are kept for watchers that resume. */
    public static final long HISTORY_KEPT = 10_000;

    private final Connection writer;
    private final Connection reader;
    private final int maxBatch;
    private final long historyKept;
    private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final List<Consumer<List<Event>>> listeners = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile long revision;
    private volatile boolean closed;

    private record Pending(Txn txn, CompletableFuture<TxnResult> future) {}

    private static final Pending STOP = new Pending(null, null);

    /** Opens (creating if needed) the database at file. maxBatch 1 disables group commit (for measurements). */
    public SqliteStore(Path file, int maxBatch) {
        this(file, maxBatch, HISTORY_KEPT);
    }

    /** As above, keeping historyKept revisions of history. */
    public SqliteStore(Path file, int maxBatch, long historyKept) {
        if (maxBatch < 1 || historyKept < 1) {
            throw new IllegalArgumentException("maxBatch and historyKept must be at least 1");
        }
        this.maxBatch = maxBatch;
        this.historyKept = historyKept;
        try {
            if (!Files.exists(file)) {
                // SQLite gives its -wal and -shm files the database's mode: 0600 for all three.
                Files.createFile(file,
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
        } catch (IOException e) {
            throw new StoreException("cannot create the store " + file + ": " + e.getMessage(), e);
        }
        try {
            writer = open(file);
            try (Statement s = writer.createStatement()) {
                s.executeUpdate("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL,"
                        + " mod_revision INTEGER NOT NULL) WITHOUT ROWID");
                s.executeUpdate("CREATE TABLE IF NOT EXISTS events (revision INTEGER NOT NULL, key TEXT NOT NULL,"
                        + " value BLOB, PRIMARY KEY (revision, key)) WITHOUT ROWID");
                s.executeUpdate("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
                s.executeUpdate("INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0)");
            }
            writer.setAutoCommit(false);
            writer.commit();
            reader = open(file);
            reader.setAutoCommit(false);
            revision = meta(writer, "revision");
            writer.commit();
        } catch (SQLException e) {
            throw new StoreException("cannot open the store " + file + ": " + e.getMessage(), e);
        }
        thread = Thread.ofPlatform().name("store-writer").daemon().start(this::run);
        log.info("store opened file={} revision={}", file, revision);
    }

    private static Connection open(Path file) throws SQLException {
        Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
        try (Statement s = c.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA synchronous=FULL");
            s.execute("PRAGMA busy_timeout=10000");
        }
        return c;
    }

    @Override
    public CompletableFuture<TxnResult> commit(Txn txn) {
        CompletableFuture<TxnResult> future = new CompletableFuture<>();
        if (closed) {
            future.completeExceptionally(new StoreException("the store is closed", null));
        } else {
            queue.add(new Pending(txn, future));
        }
        return future;
    }

    private void run() {
        List<Pending> batch = new ArrayList<>(maxBatch);
        while (true) {
            batch.clear();
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                return;
            }
            queue.drainTo(batch, maxBatch - 1);
            boolean stop = batch.remove(STOP);
            if (!batch.isEmpty()) {
                apply(batch);
            }
            if (stop) {
                return;
            }
        }
    }

    /** Applies a batch in one SQLite transaction, then publishes its events and completes its futures. */
    private void apply(List<Pending> batch) {
        List<TxnResult> results = new ArrayList<>(batch.size());
        List<Event> events = new ArrayList<>();
        long rev;
        try {
            // Take the write lock up front, so that a concurrent writer process cannot change what the compares read.
            try (Statement s = writer.createStatement()) {
                writer.rollback();
                s.executeUpdate("UPDATE meta SET value = value WHERE name = 'revision'");
            }
            rev = meta(writer, "revision");
            for (Pending p : batch) {
                if (!holds(p.txn().compares())) {
                    results.add(new TxnResult(false, rev));
                    continue;
                }
                List<Event> changed = new ArrayList<>();
                for (Op op : p.txn().ops()) {
                    changed.addAll(applyOp(op, rev + 1));
                }
                if (!changed.isEmpty()) {
                    rev++;
                    events.addAll(changed);
                }
                results.add(new TxnResult(true, rev));
            }
            setMeta("revision", rev);
            trimHistory(rev);
            writer.commit();
        } catch (SQLException | RuntimeException e) {
            try {
                writer.rollback();
            } catch (SQLException suppressed) {
                e.addSuppressed(suppressed);
            }
            log.error("store write failed, batch of {} rejected: {}", batch.size(), e.toString());
            for (Pending p : batch) {
                p.future().completeExceptionally(new StoreException("the store could not write: " + e.getMessage(), e));
            }
            return;
        }
        revision = rev;
        if (!events.isEmpty()) {
            List<Event> published = List.copyOf(events);
            for (Consumer<List<Event>> listener : listeners) {
                try {
                    listener.accept(published);
                } catch (RuntimeException e) {
                    log.error("store listener failed", e);
                }
            }
        }
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).future().complete(results.get(i));
        }
    }

    private boolean holds(List<Compare> compares) throws SQLException {
        for (Compare c : compares) {
            if (modRevision(c.key()) != c.modRevision()) {
                return false;
            }
        }
        return true;
    }

    private long modRevision(String key) throws SQLException {
        try (PreparedStatement ps = writer.prepareStatement("SELECT mod_revision FROM kv WHERE key = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    private List<Event> applyOp(Op op, long rev) throws SQLException {
        switch (op) {
            case Put put -> {
                try (PreparedStatement ps = writer.prepareStatement("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)")) {
                    ps.setString(1, put.key());
                    ps.setBytes(2, put.value());
                    ps.setLong(3, rev);
                    ps.executeUpdate();
                }
                recordEvent(rev, put.key(), put.value());
                return List.of(new Event(rev, put.key(), put.value()));
            }
            case Delete delete -> {
                int n;
                try (PreparedStatement ps = writer.prepareStatement("DELETE FROM kv WHERE key = ?")) {
                    ps.setString(1, delete.key());
                    n = ps.executeUpdate();
                }
                if (n == 0) {
                    return List.of();
                }
                recordEvent(rev, delete.key(), null);
                return List.of(new Event(rev, delete.key(), null));
            }
        }
    }

    private void recordEvent(long rev, String key, byte[] value) throws SQLException {
        try (PreparedStatement ps = writer.prepareStatement("INSERT OR REPLACE INTO events VALUES (?, ?, ?)")) {
            ps.setLong(1, rev);
            ps.setString(2, key);
            ps.setBytes(3, value);
            ps.executeUpdate();
        }
    }

    /** Drops history older than historyKept revisions, in steps of a tenth, so that trimming costs little per batch. */
    private void trimHistory(long rev) throws SQLException {
        long compacted = meta(writer, "compacted");
        if (rev - compacted <= historyKept + historyKept / 10) {
            return;
        }
        long upTo = rev - historyKept;
        try (PreparedStatement ps = writer.prepareStatement("DELETE FROM events WHERE revision <= ?")) {
            ps.setLong(1, upTo);
            ps.executeUpdate();
        }
        setMeta("compacted", upTo);
    }

    private static long meta(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT value FROM meta WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("meta " + name + " is missing");
                }
                return rs.getLong(1);
            }
        }
    }

    private void setMeta(String name, long value) throws SQLException {
        try (PreparedStatement ps = writer.prepareStatement("UPDATE meta SET value = ? WHERE name = ?")) {
            ps.setLong(1, value);
            ps.setString(2, name);
            ps.executeUpdate();
        }
    }

    @Override
    public synchronized Optional<KeyValue> get(String key) {
        try (PreparedStatement ps = reader.prepareStatement("SELECT value, mod_revision FROM kv WHERE key = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                Optional<KeyValue> kv =
                        rs.next() ? Optional.of(new KeyValue(key, rs.getBytes(1), rs.getLong(2))) : Optional.empty();
                return kv;
            }
        } catch (SQLException e) {
            throw new StoreException("the store could not read: " + e.getMessage(), e);
        } finally {
            endRead();
        }
    }

    @Override
    public synchronized Range range(String prefix) {
        try {
            long rev = meta(reader, "revision");
            List<KeyValue> kvs = new ArrayList<>();
            try (PreparedStatement ps = reader.prepareStatement(
                    "SELECT key, value, mod_revision FROM kv WHERE key >= ? AND key < ? ORDER BY key")) {
                ps.setString(1, prefix);
                ps.setString(2, prefix + Character.MAX_VALUE);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        kvs.add(new KeyValue(rs.getString(1), rs.getBytes(2), rs.getLong(3)));
                    }
                }
            }
            return new Range(kvs, rev);
        } catch (SQLException e) {
            throw new StoreException("the store could not read: " + e.getMessage(), e);
        } finally {
            endRead();
        }
    }

    @Override
    public synchronized Optional<History> history(long after, String prefix) {
        try {
            long rev = meta(reader, "revision");
            if (after < meta(reader, "compacted") || after > rev) {
                return Optional.empty();
            }
            List<Event> events = new ArrayList<>();
            try (PreparedStatement ps = reader.prepareStatement("SELECT revision, key, value FROM events"
                    + " WHERE revision > ? AND key >= ? AND key < ? ORDER BY revision, key")) {
                ps.setLong(1, after);
                ps.setString(2, prefix);
                ps.setString(3, prefix + Character.MAX_VALUE);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        events.add(new Event(rs.getLong(1), rs.getString(2), rs.getBytes(3)));
                    }
                }
            }
            return Optional.of(new History(events, rev));
        } catch (SQLException e) {
            throw new StoreException("the store could not read: " + e.getMessage(), e);
        } finally {
            endRead();
        }
    }

    /** Ends the read transaction, so that the next read sees the latest commit and the WAL can be checkpointed. */
    private void endRead() {
        try {
            reader.commit();
        } catch (SQLException e) {
            log.warn("store read transaction did not end cleanly: {}", e.toString());
        }
    }

    @Override
    public void listen(Consumer<List<Event>> listener) {
        listeners.add(listener);
    }

    @Override
    public long revision() {
        return revision;
    }

    /** Finishes the transactions already queued, then closes the database. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        queue.add(STOP);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Pending p; (p = queue.poll()) != null; ) {
            if (p != STOP) {
                p.future().completeExceptionally(new StoreException("the store is closed", null));
            }
        }
        try {
            synchronized (this) {
                reader.close();
            }
            writer.close();
        } catch (SQLException e) {
            log.warn("store did not close cleanly: {}", e.toString());
        }
        log.info("store closed revision={}", revision);
    }
}
