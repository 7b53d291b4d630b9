package io.wgcni.wg.uapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.time.ManualClock;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UapiServerTest {
    @TempDir
    Path dir;
    private Device device;
    private UapiServer server;

    @BeforeEach
    void setUp() throws Exception {
        device = new Device("wgsrv", new MemoryTun("wgsrv", 1420),
            new MemoryNetwork().newBind(InetAddress.getByName("10.0.0.1")), new ManualClock(), 1);
        device.up();
        server = UapiServer.start(device, dir);
    }

    @AfterEach
    void tearDown() {
        server.close();
        device.close();
    }

    private String exchange(String request) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(server.path()))) {
            ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
            ch.shutdownOutput();
            InputStream in = Channels.newInputStream(ch);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    @Test
    void socketIsPrivateAndAnswersGetAndSet() throws Exception {
        assertEquals(dir.resolve("wgsrv.sock"), server.path());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.path())));
        String key = X25519.generatePrivateKey().toHex();
        assertEquals("errno=0\n\n", exchange("set=1\nprivate_key=" + key + "\n\n"));
        String got = exchange("get=1\n\n");
        assertTrue(got.startsWith("private_key=" + key + "\n"), got);
        assertTrue(got.endsWith("errno=0\n\n"));
        assertEquals(1, Files.list(dir).count(), "no staging leftovers");
    }

    @Test
    void garbageClientsDoNotHurtTheDevice() throws Exception {
        assertEquals("", exchange("\u0000\u0001garbage\n"));
        assertEquals("errno=22\n\n", exchange("set=1\nlisten_port=banana\n\n"));
        assertEquals("errno=71\n\n", exchange("set=1\nnonsense\n\n"));
        assertTrue(exchange("get=1\n\n").endsWith("errno=0\n\n"), "still serving");
    }

    @Test
    void aSecondServerForTheSameInterfaceIsRefusedAndCloseRemovesTheSocket() throws Exception {
        assertThrows(IOException.class, () -> UapiServer.start(device, dir));
        assertTrue(server.socketPresent());
        server.close();
        assertFalse(Files.exists(dir.resolve("wgsrv.sock")));
        server = UapiServer.start(device, dir); // a stale or removed socket does not block a restart
        assertTrue(server.socketPresent());
    }
}
