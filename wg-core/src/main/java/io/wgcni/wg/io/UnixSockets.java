package io.wgcni.wg.io;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Consumer;

/**
 * Unix sockets that are mode 0600 from the moment they appear at their path (the UAPI's, node-manager's API and
 * CNI sockets): bound in a private (0700) directory next to the final path, restricted, then renamed into place,
 * so no other user can ever connect to one, not even in the instant after the bind.
 */
public final class UnixSockets {
    private UnixSockets() {}

    /** Binds something (a channel, a gRPC server) at a path; the socket file exists once this returns. */
    @FunctionalInterface
    public interface Binder<T> {
        T bind(Path path) throws IOException;
    }

    /** A listening channel at {@code path}, 0600 from birth; {@code who} as in {@link #bindPrivately}. */
    public static ServerSocketChannel listen(Path path, String who) throws IOException {
        return bindPrivately(path, who, p -> {
            ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                s.bind(UnixDomainSocketAddress.of(p));
            } catch (IOException e) {
                s.close();
                throw e;
            }
            return s;
        }, s -> {
            try {
                s.close();
            } catch (IOException e) {
                // it never served
            }
        });
    }

    /**
     * Binds at {@code path} through {@code binder}, 0600 from birth; {@code discard} undoes a bind that could not be
     * moved into place. A live socket already at {@code path} is an error that names {@code who} ("node-manager",
     * "the interface") as the likely owner; a stale one, from a process that died, is replaced.
     */
    public static <T> T bindPrivately(Path path, String who, Binder<T> binder, Consumer<? super T> discard)
            throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        if (Files.exists(path)) {
            if (isLive(path)) {
                throw new IOException("another process serves " + path + ": is " + who + " already running?");
            }
            Files.delete(path);
        }
        Path staging = Files.createTempDirectory(dir, ".sock-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path temp = staging.resolve("s");
        try {
            T bound = binder.bind(temp);
            try {
                Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
                Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | RuntimeException e) {
                discard.accept(bound);
                throw e;
            }
            return bound;
        } finally {
            Files.deleteIfExists(temp);
            Files.deleteIfExists(staging);
        }
    }

    /** Whether a process accepts connections at {@code path}. */
    public static boolean isLive(Path path) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            return probe.connect(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            return false;
        }
    }
}
