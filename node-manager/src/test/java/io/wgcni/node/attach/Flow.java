package io.wgcni.node.attach;

import io.wgcni.tun.Netns;
import io.wgcni.tun.TcpTransfer;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One long TCP connection between two namespaces that a test keeps running across a node-manager restart or a key
 * rotation: a sender of pseudo-random bytes (as fast as it can, or at a steady rate) and a receiver that counts and
 * digests them and keeps the longest pause between two reads, in the background.
 */
public final class Flow implements AutoCloseable {
    private final ServerSocket server;
    private final Socket client;
    private final AtomicLong received = new AtomicLong();
    private final CompletableFuture<String> receivedDigest;
    private final CompletableFuture<String> sentDigest;
    private final long bytesPerSecond;
    private volatile long longestPauseNanos;

    Flow(String fromNs, String toNs, String toAddress, long bytes) throws Exception {
        this(fromNs, toNs, toAddress, bytes, 0);
    }

    /** {@code bytesPerSecond}: the sender's steady rate, 0 for as fast as the connection takes. */
    public Flow(String fromNs, String toNs, String toAddress, long bytes, long bytesPerSecond) throws Exception {
        this.bytesPerSecond = bytesPerSecond;
        InetAddress address = InetAddress.getByName(toAddress);
        server = Netns.inNamespace(toNs, () -> new ServerSocket(0, 1, address));
        int port = server.getLocalPort();
        receivedDigest = CompletableFuture.supplyAsync(this::receive, r -> Thread.ofPlatform().daemon().start(r));
        // The JDK creates a socket's descriptor on connect: connect inside the namespace.
        client = Netns.inNamespace(fromNs, () -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(address, port), 10_000);
            return s;
        });
        sentDigest = CompletableFuture.supplyAsync(() -> send(bytes), r -> Thread.ofPlatform().daemon().start(r));
    }

    private String receive() {
        try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            long last = 0;
            for (int n; (n = in.read(buf)) > 0; ) {
                long now = System.nanoTime();
                if (last != 0 && now - last > longestPauseNanos) {
                    longestPauseNanos = now - last;
                }
                last = now;
                md.update(buf, 0, n);
                received.addAndGet(n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private String send(long bytes) {
        try {
            return TcpTransfer.send(client, bytes, bytesPerSecond);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public long received() {
        return received.get();
    }

    /** The longest time between two reads since the first read, or since the last call; resets it. */
    public long takeLongestPauseMillis() {
        long n = longestPauseNanos;
        longestPauseNanos = 0;
        return TimeUnit.NANOSECONDS.toMillis(n);
    }

    /** Waits until more than {@code bytes} have arrived; false after {@code timeoutMillis}. */
    public boolean awaitReceivedMoreThan(long bytes, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (received.get() <= bytes) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /** The digests of what was sent and what arrived, once the connection has finished. */
    public String[] digests(long timeoutSeconds) throws Exception {
        return new String[] {sentDigest.get(timeoutSeconds, TimeUnit.SECONDS),
                receivedDigest.get(timeoutSeconds, TimeUnit.SECONDS)};
    }

    @Override
    public void close() throws java.io.IOException {
        client.close();
        server.close();
    }
}
