package io.wgcni.node;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Unix sockets that are mode 0600 from the moment they appear, as wg-core's UapiServer makes its own: bound in
 * a private (0700) directory next to the final path, restricted, then renamed into place.
 */
final class UnixSockets {
    private UnixSockets() {}

    /** Binds something at a path; the socket exists once this returns. */
    @FunctionalInterface
    interface Binder<T> {
        T bind(Path path) throws IOException;
    }

    /**
     * Binds at {@code path} through {@code binder}, 0600 from birth. A live socket already at {@code path} (another
     * node-manager) is an error; a stale one (from a process that died) is replaced.
     */
    static <T> T bindPrivately(Path path, Binder<T> binder) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        if (Files.exists(path)) {
            if (isLive(path)) {
                throw new IOException("another process serves " + path + ": is node-manager already running?");
            }
            Files.delete(path);
        }
        Path staging = Files.createTempDirectory(dir, ".sock-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path temp = staging.resolve("s");
        try {
            T bound = binder.bind(temp);
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
            Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE);
            return bound;
        } finally {
            Files.deleteIfExists(temp);
            Files.deleteIfExists(staging);
        }
    }

    static boolean isLive(Path path) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            return probe.connect(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            return false;
        }
    }
}
