package io.wgcni.cni;

import io.wgcni.api.node.Frames;
import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * One call to node-manager over its CNI socket: connect, one request frame, one response frame (node.proto).
 * No gRPC: the plugin is a process per call and a gRPC client costs about 0.4 s to start.
 */
public final class NodeClient {
    /** node-manager gone unresponsive; a runtime's own CNI timeouts are of this order too. */
    static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final Path socket;

    public NodeClient(String socket) {
        this.socket = Path.of(socket);
    }

    /** Thrown when node-manager cannot be reached or dropped the call: nothing is known about its outcome. */
    public static final class UnreachableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnreachableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    public CniResponse call(CniRequest request) throws UnreachableException {
        SocketChannel channel;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            throw new UnreachableException("cannot open a unix socket: " + e.getMessage(), e);
        }
        // A unix SocketChannel has no read timeout: a watchdog closes it, which fails the blocked read.
        // A platform thread: virtual threads would start their scheduler, which costs start-up time.
        Thread watchdog = Thread.ofPlatform().daemon().unstarted(() -> {
            try {
                TimeUnit.NANOSECONDS.sleep(TIMEOUT_NANOS);
                channel.close();
            } catch (InterruptedException | IOException ignored) {
                // the call finished first
            }
        });
        try (channel) {
            try {
                channel.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new UnreachableException("node-manager is not reachable at " + socket + ": "
                        + describe(e), e);
            }
            watchdog.start();
            Frames.write(channel, request);
            return Frames.read(channel, CniResponse.parser());
        } catch (ClosedChannelException e) {
            throw new UnreachableException("node-manager did not answer within "
                    + TimeUnit.NANOSECONDS.toSeconds(TIMEOUT_NANOS) + " s on " + socket, e);
        } catch (IOException e) {
            throw new UnreachableException("node-manager dropped the call on " + socket + ": " + describe(e), e);
        } finally {
            watchdog.interrupt();
        }
    }

    private static String describe(IOException e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message;
    }
}
