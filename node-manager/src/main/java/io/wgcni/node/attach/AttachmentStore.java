package io.wgcni.node.attach;

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
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The node's durable attachment state, one SQLite file ({@code attachments.db}, mode 0600: it holds the
 * containers' private keys) in WAL mode with {@code synchronous=FULL}: every method that changes something has
 * committed to disk when it returns, so nothing is answered before it is durable.
 *
 * <p>Two tables. {@code allocations} maps an owner ({@code container:ID/IFNAME} or {@code client:NAME}) to its
 * slot (see {@link NodeNetwork}); the slot is the primary key and the owner unique, so the database itself refuses
 * to hand a slot out twice or to give an owner two. {@code attachments} holds what a restart needs to bring a
 * container's tunnel back: its namespace, interface, slot, private key, UDP port and MTU.
 *
 * <p>Not thread-safe on its own: {@link Attachments} serialises every call.
 */
final class AttachmentStore implements AutoCloseable {
    static final String FILE_NAME = "attachments.db";

    /**
     * One container interface's tunnel, as stored. {@code port} is 0 until its device has bound one. {@code network}
     * is the CNI network's name ("" for attachments recorded before it was kept): GC and CHECK act within one.
     */
    record Attachment(String containerId, String ifname, String netns, int slot, String privateKeyBase64, int port,
            int mtu, long createdEpochMillis, String network) {
        String owner() {
            return containerOwner(containerId, ifname);
        }

        Attachment withPort(int newPort) {
            return new Attachment(containerId, ifname, netns, slot, privateKeyBase64, newPort, mtu, createdEpochMillis,
                    network);
        }

        Attachment withPrivateKey(String base64) {
            return new Attachment(containerId, ifname, netns, slot, base64, port, mtu, createdEpochMillis, network);
        }

        @Override
        public String toString() { // no key
            return "Attachment[" + containerId + "/" + ifname + " in " + netns + ", network " + network
                    + ", slot " + slot + ", port " + port + "]";
        }
    }

    private final Connection db;
    private final int firstSlot;
    private final int lastSlot;
    /** Mirror of the allocations table's slots, for picking the lowest free one without a scan. */
    private final BitSet used = new BitSet();

    /** Opens (creating) {@code dataDir/attachments.db}; slots outside {@code [firstSlot, lastSlot]} are never given. */
    AttachmentStore(Path dataDir, int firstSlot, int lastSlot) throws IOException {
        this.firstSlot = firstSlot;
        this.lastSlot = lastSlot;
        Path file = dataDir.resolve(FILE_NAME);
        if (!Files.isDirectory(dataDir)) {
            Files.createDirectories(dataDir,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        if (!Files.exists(file)) {
            // Made before SQLite opens it, so it is never readable by others; SQLite gives its -wal and -shm files
            // the database file's permissions.
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        try {
            db = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
        } catch (SQLException e) {
            throw new IOException("cannot open " + file + ": " + e.getMessage(), e);
        }
        try (Statement s = db.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA synchronous=FULL");
            s.execute("PRAGMA busy_timeout=5000");
            s.execute("""
                    CREATE TABLE IF NOT EXISTS allocations (
                      slot  INTEGER PRIMARY KEY,
                      owner TEXT NOT NULL UNIQUE)""");
            s.execute("""
                    CREATE TABLE IF NOT EXISTS attachments (
                      container_id TEXT NOT NULL,
                      ifname       TEXT NOT NULL,
                      netns        TEXT NOT NULL,
                      slot         INTEGER NOT NULL,
                      private_key  TEXT NOT NULL,
                      port         INTEGER NOT NULL,
                      mtu          INTEGER NOT NULL,
                      created      INTEGER NOT NULL,
                      network      TEXT NOT NULL DEFAULT '',
                      PRIMARY KEY (container_id, ifname))""");
            boolean hasNetwork = false;
            try (ResultSet r = s.executeQuery("PRAGMA table_info(attachments)")) {
                while (r.next()) {
                    hasNetwork |= r.getString("name").equals("network");
                }
            }
            if (!hasNetwork) { // a database from before networks were kept
                s.execute("ALTER TABLE attachments ADD COLUMN network TEXT NOT NULL DEFAULT ''");
            }
            try (ResultSet r = s.executeQuery("SELECT slot FROM allocations")) {
                while (r.next()) {
                    used.set(r.getInt(1));
                }
            }
        } catch (SQLException e) {
            close();
            throw new IOException("cannot initialise " + file + ": " + e.getMessage(), e);
        }
    }

    static String containerOwner(String containerId, String ifname) {
        return "container:" + containerId + "/" + ifname;
    }

    static String clientOwner(String name) {
        return "client:" + name;
    }

    // ---- allocations ----

    /** The owner's slot, allocating the lowest free one if it has none; empty when every slot is taken. */
    OptionalInt allocate(String owner) throws IOException {
        OptionalInt existing = slotOf(owner);
        if (existing.isPresent()) {
            return existing;
        }
        int slot = used.nextClearBit(firstSlot);
        if (slot > lastSlot) {
            return OptionalInt.empty();
        }
        try (PreparedStatement p = db.prepareStatement("INSERT INTO allocations (slot, owner) VALUES (?, ?)")) {
            p.setInt(1, slot);
            p.setString(2, owner);
            p.executeUpdate();
        } catch (SQLException e) {
            throw failure("allocating an address for " + owner, e);
        }
        used.set(slot);
        return OptionalInt.of(slot);
    }

    OptionalInt slotOf(String owner) throws IOException {
        try (PreparedStatement p = db.prepareStatement("SELECT slot FROM allocations WHERE owner = ?")) {
            p.setString(1, owner);
            try (ResultSet r = p.executeQuery()) {
                return r.next() ? OptionalInt.of(r.getInt(1)) : OptionalInt.empty();
            }
        } catch (SQLException e) {
            throw failure("reading the allocation of " + owner, e);
        }
    }

    /** Frees the owner's slot; false when it had none. */
    boolean release(String owner) throws IOException {
        OptionalInt slot = slotOf(owner);
        if (slot.isEmpty()) {
            return false;
        }
        try (PreparedStatement p = db.prepareStatement("DELETE FROM allocations WHERE owner = ?")) {
            p.setString(1, owner);
            p.executeUpdate();
        } catch (SQLException e) {
            throw failure("releasing the address of " + owner, e);
        }
        used.clear(slot.getAsInt());
        return true;
    }

    /** Every allocation, owner to slot, in slot order. */
    Map<String, Integer> allocations() throws IOException {
        Map<String, Integer> all = new LinkedHashMap<>();
        try (Statement s = db.createStatement();
                ResultSet r = s.executeQuery("SELECT owner, slot FROM allocations ORDER BY slot")) {
            while (r.next()) {
                all.put(r.getString(1), r.getInt(2));
            }
        } catch (SQLException e) {
            throw failure("reading the allocations", e);
        }
        return all;
    }

    // ---- attachments ----

    /** Inserts or replaces the attachment (its slot must be allocated to it). */
    void save(Attachment a) throws IOException {
        try (PreparedStatement p = db.prepareStatement("INSERT OR REPLACE INTO attachments "
                + "(container_id, ifname, netns, slot, private_key, port, mtu, created, network)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            p.setString(1, a.containerId());
            p.setString(2, a.ifname());
            p.setString(3, a.netns());
            p.setInt(4, a.slot());
            p.setString(5, a.privateKeyBase64());
            p.setInt(6, a.port());
            p.setInt(7, a.mtu());
            p.setLong(8, a.createdEpochMillis());
            p.setString(9, a.network());
            p.executeUpdate();
        } catch (SQLException e) {
            throw failure("saving " + a, e);
        }
    }

    Optional<Attachment> attachment(String containerId, String ifname) throws IOException {
        try (PreparedStatement p = db.prepareStatement(
                "SELECT * FROM attachments WHERE container_id = ? AND ifname = ?")) {
            p.setString(1, containerId);
            p.setString(2, ifname);
            try (ResultSet r = p.executeQuery()) {
                return r.next() ? Optional.of(attachment(r)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw failure("reading the attachment " + containerId + "/" + ifname, e);
        }
    }

    List<Attachment> attachments() throws IOException {
        List<Attachment> all = new ArrayList<>();
        try (Statement s = db.createStatement();
                ResultSet r = s.executeQuery("SELECT * FROM attachments ORDER BY created, container_id, ifname")) {
            while (r.next()) {
                all.add(attachment(r));
            }
        } catch (SQLException e) {
            throw failure("reading the attachments", e);
        }
        return all;
    }

    /** Deletes the attachment and frees its slot, in one transaction. */
    void remove(String containerId, String ifname) throws IOException {
        String owner = containerOwner(containerId, ifname);
        OptionalInt slot = slotOf(owner);
        try {
            db.setAutoCommit(false);
            try (PreparedStatement a = db.prepareStatement(
                    "DELETE FROM attachments WHERE container_id = ? AND ifname = ?");
                    PreparedStatement b = db.prepareStatement("DELETE FROM allocations WHERE owner = ?")) {
                a.setString(1, containerId);
                a.setString(2, ifname);
                a.executeUpdate();
                b.setString(1, owner);
                b.executeUpdate();
                db.commit();
            } catch (SQLException e) {
                db.rollback();
                throw e;
            } finally {
                db.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw failure("removing the attachment " + containerId + "/" + ifname, e);
        }
        slot.ifPresent(used::clear);
    }

    private static Attachment attachment(ResultSet r) throws SQLException {
        return new Attachment(r.getString("container_id"), r.getString("ifname"), r.getString("netns"),
                r.getInt("slot"), r.getString("private_key"), r.getInt("port"), r.getInt("mtu"), r.getLong("created"),
                r.getString("network"));
    }

    private static IOException failure(String what, SQLException e) {
        return new IOException(what + ": " + e.getMessage(), e);
    }

    @Override
    public void close() {
        try {
            if (db != null) {
                db.close();
            }
        } catch (SQLException e) {
            // closing: nothing left to lose, every change was committed
        }
    }
}
