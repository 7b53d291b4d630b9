package io.wgcni.tun;

import java.net.ServerSocket;
import java.util.concurrent.CompletableFuture;

/** tun-linux's test helpers are package-private: this opens the few node-manager's tests use. */
public final class TunTestAccess {
    private TunTestAccess() {
    }

    /** Skips the test, saying why, unless it runs as root with /dev/net/tun and iproute2. */
    public static void assumeTunAvailable() {
        Root.assumeTunAvailable();
    }

    /** A fresh name: {@code prefix} and six or seven random characters. */
    public static String unique(String prefix) {
        return Root.unique(prefix);
    }

    public record Transfer(String sent, String received, long bytes, double seconds) {
        public double megabitsPerSecond() {
            return bytes * 8 / seconds / 1e6;
        }
    }

    /** {@code bytes} over one TCP connection from {@code fromNs} to {@code toAddress} in {@code toNs}, with digests. */
    public static Transfer tcpTransfer(String fromNs, String toNs, String toAddress, long bytes) throws Exception {
        TcpTransfer.Result r = TcpTransfer.run(fromNs, toNs, toAddress, bytes);
        return new Transfer(r.sent(), r.received(), r.bytes(), r.seconds());
    }

    /** The SHA-256 of everything the next connection accepted on {@code server} carries. */
    public static CompletableFuture<String> digestOfNextConnection(ServerSocket server) {
        return TcpTransfer.digestOfNextConnection(server);
    }
}
