package io.wgcni.node;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The node's WireGuard private key, in {@code private.key} in the data directory: base64 as {@code wg genkey}
 * writes it, mode 0600. Created once; a node keeps its key across restarts until {@code node-manager rotate-key}
 * replaces it.
 */
final class NodeKey {
    static final String FILE = "private.key";

    private NodeKey() {}

    /** Reads the key, or creates it when the file does not exist yet. */
    static Key readOrCreate(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE);
        if (Files.exists(file)) {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            if (mode.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
                throw new IOException(file + " is readable by others (mode "
                        + PosixFilePermissions.toString(mode) + "): chmod 600 it");
            }
            try {
                return Key.fromBase64(Files.readString(file, StandardCharsets.US_ASCII));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + " does not hold a WireGuard private key: " + e.getMessage());
            }
        }
        Key key = X25519.generatePrivateKey();
        write(dataDir, key);
        return key;
    }

    /** Replaces the key (a rotation): the file holds either the old key or the new one, whatever happens. */
    static void write(Path dataDir, Key key) throws IOException {
        writeSecret(dataDir.resolve(FILE), (key.toBase64() + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * Writes a file that only the owner may read: created 0600 under a temporary name, synced, then renamed into
     * place, so that neither a crash nor a concurrent reader ever sees it partly written or readable by others.
     */
    static void writeSecret(Path file, byte[] content) throws IOException {
        Path temp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(temp);
        try (FileChannel ch = FileChannel.open(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            ch.write(java.nio.ByteBuffer.wrap(content));
            ch.force(true);
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel dir = FileChannel.open(file.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            dir.force(true); // the rename survives a power cut only once the directory is synced
        }
    }
}
