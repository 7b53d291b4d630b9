package io.wgcni.cni;

import io.wgcni.api.node.Framing;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * One call to node-manager over its CNI socket: connect, one request frame, one response frame (node.proto, in
 * api's {@link Framing}, as node-manager frames them). No gRPC: the plugin is a process per call and a gRPC
 * client costs about 0.4 s to start.
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
        private final boolean notRunning;

        UnreachableException(String message, Throwable cause) {
            this(message, cause, false);
        }

        UnreachableException(String message, Throwable cause, boolean notRunning) {
            super(message, cause);
            this.notRunning = notRunning;
        }

        /**
         * True when nothing listens on the socket (no socket file, or connection refused): node-manager is not
         * running, so it has not seen the call and will reconcile when it starts. False when it accepted the
         * connection and then fell silent or dropped it: it may be alive and hold the attachment.
         */
        public boolean notRunning() {
            return notRunning;
        }
    }

    /** Sends one encoded CniRequest and returns the decoded CniResponse. */
    NodeMessages.Response call(byte[] request) throws UnreachableException {
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
                        + describe(e), e, true);
            }
            watchdog.start();
            Framing.write(channel, request);
            return NodeMessages.response(Framing.read(channel));
        } catch (NodeMessages.MalformedException e) {
            throw new UnreachableException("node-manager sent a malformed answer on " + socket + ": "
                    + e.getMessage(), e);
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
