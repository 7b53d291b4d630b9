package io.wgcni.node;

import io.grpc.Status;
import io.grpc.StatusException;
import io.wgcni.api.node.Frames;
import io.wgcni.api.node.v1.CniError;
import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import io.wgcni.wg.io.UnixSockets;
import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CNI plugin's socket (node.proto): one length-prefixed CniRequest per connection, answered with one
 * CniResponse, then closed. A virtual thread per connection; the plugin is a process per call, so there are
 * never many.
 */
final class CniServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CniServer.class);

    private final Path path;
    private final ServerSocketChannel server;
    private final NodeApi api;
    private final Thread acceptor;
    private volatile boolean closed;

    private CniServer(Path path, ServerSocketChannel server, NodeApi api) {
        this.path = path;
        this.server = server;
        this.api = api;
        this.acceptor = Thread.ofVirtual().name("cni-socket").start(this::acceptLoop);
    }

    static CniServer start(Path path, NodeApi api) throws IOException {
        ServerSocketChannel server = UnixSockets.listen(path, "node-manager");
        return new CniServer(path, server, api);
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel client = server.accept();
                Thread.ofVirtual().name("cni-call").start(() -> serve(client));
            } catch (IOException e) {
                if (!closed) {
                    log.warn("CNI socket accept failed: {}", e.getMessage());
                }
                return;
            }
        }
    }

    private void serve(SocketChannel client) {
        try (client) {
            CniRequest request = Frames.read(client, CniRequest.parser());
            Frames.write(client, handle(request));
        } catch (IOException e) {
            log.warn("CNI call dropped: {}", e.getMessage());
        }
    }

    CniResponse handle(CniRequest request) {
        CniResponse.Builder b = CniResponse.newBuilder();
        try {
            switch (request.getCallCase()) {
                case ATTACH -> b.setAttach(api.attach(request.getAttach()));
                case DETACH -> b.setDetach(api.detach(request.getDetach()));
                case CHECK -> b.setCheck(api.check(request.getCheck()));
                case GARBAGE_COLLECT -> b.setGarbageCollect(api.garbageCollect(request.getGarbageCollect()));
                case STATUS -> b.setStatus(api.status(request.getStatus()));
                case CALL_NOT_SET -> throw Status.INVALID_ARGUMENT.withDescription("empty CniRequest").asException();
            }
        } catch (StatusException e) {
            b.setError(CniError.newBuilder().setCode(e.getStatus().getCode().value())
                    .setMessage(String.valueOf(e.getStatus().getDescription())));
        } catch (RuntimeException e) {
            log.error("CNI {} failed", request.getCallCase(), e);
            b.setError(CniError.newBuilder().setCode(Status.Code.INTERNAL.value())
                    .setMessage("node-manager failed: " + e));
        }
        return b.build();
    }

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
            log.warn("Could not remove {}: {}", path, e.getMessage());
        }
    }
}
