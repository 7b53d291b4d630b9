package io.wgcni.node;

import io.wgcni.wg.device.Prefix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * What the cluster gave this node: its subnet(s) and the cluster's prefixes, kept in {@code lease} in the data
 * directory. A restarted node-manager brings its data path (wg0, the containers' tunnels, the last known peers)
 * back from it at once, before it reaches the cluster-manager: the containers' connections then wait for a JVM
 * start, not for a TLS handshake with a server that may be down.
 *
 * @param subnetV6 null in an IPv4-only cluster
 */
record Lease(Prefix subnetV4, Prefix subnetV6, List<Prefix> cluster) {
    static final String FILE = "lease";

    /** The stored lease, or null when there is none (the first run). */
    static Lease load(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE);
        if (!Files.exists(file)) {
            return null;
        }
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(in);
        }
        try {
            List<Prefix> cluster = new ArrayList<>();
            for (String c : p.getProperty("cluster", "").split(",")) {
                if (!c.isBlank()) {
                    cluster.add(Prefix.parse(c.strip()));
                }
            }
            String v6 = p.getProperty("subnet-v6", "");
            return new Lease(Prefix.parse(p.getProperty("subnet-v4", "")), v6.isEmpty() ? null : Prefix.parse(v6),
                    List.copyOf(cluster));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + " is damaged (" + e.getMessage() + "): delete it and restart");
        }
    }

    void save(Path dataDir) throws IOException {
        String text = "subnet-v4=" + subnetV4 + "\nsubnet-v6=" + (subnetV6 == null ? "" : subnetV6) + "\ncluster="
                + String.join(",", cluster.stream().map(Prefix::toString).toList()) + "\n";
        NodeKey.writeSecret(dataDir.resolve(FILE), text.getBytes(StandardCharsets.UTF_8));
    }

    List<Prefix> subnets() {
        return subnetV6 == null ? List.of(subnetV4) : List.of(subnetV4, subnetV6);
    }
}
