package io.wgcni.tun;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Moves bytes over TCP from one namespace to another and compares SHA-256 digests of what went and came. */
public final class TcpTransfer {
    private TcpTransfer() {}

    public record Result(String sent, String received, long bytes, double seconds) {
        public double megabitsPerSecond() {
            return bytes * 8 / seconds / 1e6;
        }
    }

    /** Accepts one connection on {@code server}, in the background, and returns the SHA-256 of all it carried. */
    public static CompletableFuture<String> digestOfNextConnection(ServerSocket server) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
                return HexFormat.of().formatHex(md.digest());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    public static Result run(String fromNs, String toNs, String toAddress, long bytes) throws Exception {
        InetAddress address = InetAddress.getByName(toAddress);
        ServerSocket server = Netns.inNamespace(toNs, () -> new ServerSocket(0, 1, address));
        try (server) {
            int port = server.getLocalPort();
            CompletableFuture<String> received = digestOfNextConnection(server);
            long start = System.nanoTime();
            // The JDK creates a socket's file descriptor on connect: connect inside the namespace.
            Socket client = Netns.inNamespace(fromNs, () -> {
                Socket s = new Socket();
                s.connect(new InetSocketAddress(address, port), 10_000);
                return s;
            });
            try (client) {
                String sent = send(client, bytes);
                String got = received.get(120, TimeUnit.SECONDS);
                double seconds = (System.nanoTime() - start) / 1e9;
                return new Result(sent, got, bytes, seconds);
            } catch (IOException e) {
                received.cancel(true);
                throw e;
            }
        }
    }

    /**
     * Writes {@code bytes} pseudo-random bytes (seeded with their count) to {@code client} and shuts its output
     * down; returns their SHA-256, in hex, for the receiver's to be compared with.
     */
    public static String send(Socket client, long bytes) throws IOException {
        return send(client, bytes, 0);
    }

    /**
     * As {@link #send(Socket, long)}, at a steady {@code bytesPerSecond} (0: as fast as the connection takes).
     * The pace is kept against the start, so after a stall the sender catches up at full speed.
     */
    public static String send(Socket client, long bytes, long bytesPerSecond) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        OutputStream out = client.getOutputStream();
        Random random = new Random(bytes);
        byte[] buf = new byte[bytesPerSecond > 0 ? 1 << 14 : 1 << 16];
        long start = System.nanoTime();
        for (long left = bytes; left > 0; ) {
            random.nextBytes(buf);
            int n = (int) Math.min(buf.length, left);
            out.write(buf, 0, n);
            md.update(buf, 0, n);
            left -= n;
            if (bytesPerSecond > 0) {
                long wait = start + (long) ((bytes - left) * 1e9 / bytesPerSecond) - System.nanoTime();
                if (wait > 0) {
                    try {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("interrupted while pacing the stream");
                    }
                }
            }
        }
        client.shutdownOutput();
        return HexFormat.of().formatHex(md.digest());
    }
}
