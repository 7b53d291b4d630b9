package io.wgcni.wg.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnixSocketsTest {
    @TempDir
    Path dir;

    @Test
    void aSocketIsOwnerOnlyAtItsPathAndNothingIsLeftBeside() throws IOException {
        Path path = dir.resolve("run/x.sock");
        try (ServerSocketChannel s = UnixSockets.listen(path, "x")) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
            assertTrue(UnixSockets.isLive(path));
            try (var files = Files.list(path.getParent())) {
                assertEquals(1, files.count(), "the staging directory is gone");
            }
        }
    }

    @Test
    void aLiveSocketIsRefusedAndAStaleOneReplaced() throws IOException {
        Path path = dir.resolve("x.sock");
        try (ServerSocketChannel first = UnixSockets.listen(path, "x")) {
            IOException e = assertThrows(IOException.class, () -> UnixSockets.listen(path, "the thing"));
            assertTrue(e.getMessage().contains("is the thing already running?"), e.getMessage());
        }
        // The file of a process that died: not live, replaced.
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            Files.delete(path);
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path));
        assertFalse(UnixSockets.isLive(path));
        try (ServerSocketChannel again = UnixSockets.listen(path, "x")) {
            assertTrue(UnixSockets.isLive(path));
        }
    }
}
