package io.wgcni.cluster;

import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.JoinToken;
import io.wgcni.cluster.auth.Tokens;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** A real cluster-manager on loopback in a temporary data directory, and clients joined to it over TLS. */
final class TestCluster implements AutoCloseable {
    final Path dir;
    final ClusterDaemon manager;
    final String target;
    private final List<ClusterClient> opened = new ArrayList<>();

    TestCluster(ClusterDaemon.Options options) throws IOException {
        this.dir = options.dataDir().getParent();
        this.manager = ClusterDaemon.start(options);
        this.target = "127.0.0.1:" + manager.address().getPort();
    }

    static TestCluster start() throws IOException {
        return start(o -> o);
    }

    static TestCluster start(java.util.function.UnaryOperator<ClusterDaemon.Options> tweak) throws IOException {
        Path dir = Files.createTempDirectory("cm-test");
        return new TestCluster(tweak.apply(ClusterDaemon.Options.defaults(dir.resolve("data"))));
    }

    JoinToken token(Duration ttl) {
        return JoinToken.parse(new Tokens(manager.store(), Clock.systemUTC()).create(ttl, manager.pki().caKeyHash()));
    }

    Credentials join(String node) throws IOException {
        return ClusterClient.join(target, token(Duration.ofHours(1)), node, dir.resolve("nodes").resolve(node));
    }

    ClusterClient client(Credentials credentials) throws IOException {
        ClusterClient c = ClusterClient.connect(target, credentials);
        opened.add(c);
        return c;
    }

    /** A node joined under that name, connected. */
    ClusterClient node(String name) throws IOException {
        return client(join(name));
    }

    ClusterClient admin() throws IOException {
        return client(ClusterDaemon.writeAdminCredentials(dir.resolve("data"), dir.resolve("admin")));
    }

    @Override
    public void close() {
        for (ClusterClient c : opened) {
            c.close();
        }
        manager.close();
        deleteTree(dir);
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
