package io.wgcni.wg.uapi;

import io.wgcni.wg.device.Device;
import io.wgcni.wg.io.UnixSockets;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the UAPI of one device on a unix socket, {@code /var/run/wireguard/<iface>.sock} by default, where
 * {@code wg} looks for userspace implementations. The socket is mode 0600 from the moment it appears
 * ({@link UnixSockets}). One virtual thread per client; a client that sends garbage is answered or disconnected
 * and the device keeps running.
 */
public final class UapiServer implements AutoCloseable {
    public static final Path DEFAULT_DIRECTORY = Path.of("/var/run/wireguard");
    private static final Logger log = LoggerFactory.getLogger(UapiServer.class);

    private final Device device;
    private final Path path;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private volatile boolean closed;

    private UapiServer(Device device, Path path, ServerSocketChannel server) {
        this.device = device;
        this.path = path;
        this.server = server;
        this.acceptor = Thread.ofPlatform().daemon().name("uapi-" + device.name()).start(this::acceptLoop);
    }

    /** Listens on {@code <directory>/<device name>.sock}; fails if a live socket is already there. */
    public static UapiServer start(Device device, Path directory) throws IOException {
        Path path = directory.resolve(device.name() + ".sock");
        return new UapiServer(device, path, UnixSockets.listen(path, "the interface"));
    }

    public Path path() {
        return path;
    }

    /** True while our socket file is still where we put it (someone deleting it asks us to stop). */
    public boolean socketPresent() {
        return Files.exists(path);
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel client = server.accept();
                Thread.ofVirtual().name("uapi-client-" + device.name()).start(() -> serve(client));
            } catch (IOException e) {
                if (!closed) {
                    log.warn("{}: UAPI accept failed: {}", device.name(), e.getMessage());
                }
                return;
            }
        }
    }

    private void serve(SocketChannel client) {
        try (client) {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                StandardCharsets.UTF_8));
            Writer out = new OutputStreamWriter(Channels.newOutputStream(client), StandardCharsets.UTF_8);
            Uapi.serve(device, in, out);
            out.flush();
        } catch (IOException | RuntimeException e) {
            log.warn("{}: UAPI client dropped: {}", device.name(), e.getMessage());
        }
    }

    /** Stops listening and removes the socket file. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            log.warn("{}: could not remove {}: {}", device.name(), path, e.getMessage());
        }
        acceptor.interrupt();
    }
}
