package io.wgcni.node;

import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.wgcni.api.cluster.v1.ClusterGrpc;
import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.WatchPeersRequest;
import io.wgcni.api.cluster.v1.WatchPeersResponse;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps wg0's node peers equal to the cluster's registry: follows {@code WatchPeers} (reconnecting with backoff
 * and resuming from the last revision it applied) and turns every other node into a peer of wg0 whose allowed IPs
 * are the node's prefixes, plus a route for each prefix into wg0.
 *
 * <p>Changes are applied as differences, never by rebuilding: a new key replaces only that peer, a new endpoint or
 * prefix list updates the peer in place, so the other peers' sessions and traffic are untouched. Peers that are
 * not nodes (the containers' and external clients' peers) are never touched.
 */
final class PeerSync implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PeerSync.class);
    /** Keeps NAT mappings open, and makes a restarted node handshake with every other node at once. */
    static final int PERSISTENT_KEEPALIVE_SECONDS = 25;
    private static final Duration MIN_BACKOFF = Duration.ofMillis(250);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

    /** A node as wg0 sees it. */
    record NodePeer(String name, Key publicKey, Endpoint endpoint, List<Prefix> prefixes) {}

    /** What the routes are applied to: wg0's routing, separate so that the diff logic can be tested alone. */
    interface Routes {
        void add(Prefix prefix) throws IOException;

        void delete(Prefix prefix);
    }

    private final String self;
    private final Path cache;
    private final Device device;
    private final Routes routes;
    private final List<Prefix> ownSubnets;
    private final Map<String, NodePeer> nodes = new HashMap<>();
    private volatile long revision;
    private volatile boolean synced;
    private volatile Thread watcher;
    private volatile Context.CancellableContext call;
    private volatile boolean closed;

    /** {@code cache}: where the last known nodes are kept for the next start (null: nowhere). */
    PeerSync(String self, Path cache, Device device, Routes routes, List<Prefix> ownSubnets) {
        this.self = self;
        this.cache = cache;
        this.device = device;
        this.routes = routes;
        this.ownSubnets = List.copyOf(ownSubnets);
    }

    /**
     * Starts following the registry. {@code onSelf} sees this node's own entry (null when it was deleted), so the
     * caller can register again when the registry no longer says what it should.
     */
    void start(Supplier<ClusterGrpc.ClusterBlockingStub> stub, Consumer<Peer> onSelf) {
        watcher = Thread.ofPlatform().daemon().name("watch-peers").start(() -> watch(stub, onSelf));
    }

    /**
     * Puts back the nodes the previous run knew, before the registry can be reached: traffic to them flows at
     * once, and the watch's first snapshot corrects whatever changed meanwhile.
     */
    synchronized void restore() {
        if (cache == null || !Files.exists(cache)) {
            return;
        }
        try {
            for (String line : Files.readAllLines(cache, StandardCharsets.UTF_8)) {
                String[] f = line.strip().split(" ");
                if (f.length == 4 && !f[0].equals(self)) {
                    NodePeer n = parse(Peer.newBuilder().setNodeName(f[0]).setPublicKey(f[1])
                            .setEndpoint(f[2].equals("-") ? "" : f[2])
                            .addAllAllowedPrefixes(List.of(f[3].split(","))).build());
                    if (n != null) {
                        put(n);
                    }
                }
            }
            log.info("Restored {} node peer(s) known before the restart", nodes.size());
        } catch (IOException e) {
            log.warn("Could not read the last known peers from {}: {}", cache, e.getMessage());
        }
    }

    private void save() {
        if (cache == null) {
            return;
        }
        StringBuilder text = new StringBuilder();
        for (NodePeer n : nodes.values()) {
            text.append(n.name()).append(' ').append(n.publicKey().toBase64()).append(' ')
                    .append(n.endpoint() == null ? "-" : n.endpoint().toString()).append(' ')
                    .append(String.join(",", n.prefixes().stream().map(Prefix::toString).toList())).append('\n');
        }
        try {
            NodeKey.writeSecret(cache, text.toString().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            log.warn("Could not keep the known peers in {}: {}", cache, e.getMessage());
        }
    }

    /** True once a first snapshot has been applied. */
    boolean synced() {
        return synced;
    }

    long revision() {
        return revision;
    }

    synchronized List<NodePeer> nodes() {
        return List.copyOf(nodes.values());
    }

    private void watch(Supplier<ClusterGrpc.ClusterBlockingStub> stub, Consumer<Peer> onSelf) {
        Duration backoff = MIN_BACKOFF;
        java.util.concurrent.atomic.AtomicBoolean heard = new java.util.concurrent.atomic.AtomicBoolean();
        while (!closed) {
            Context.CancellableContext ctx = Context.current().withCancellation();
            call = ctx;
            try {
                ctx.run(() -> {
                    Iterator<WatchPeersResponse> it = stub.get()
                            .watchPeers(WatchPeersRequest.newBuilder().setSinceRevision(revision).build());
                    while (it.hasNext()) {
                        apply(it.next(), onSelf);
                        heard.set(true);
                    }
                });
                if (!closed) {
                    log.info("The peer watch ended at revision {}; resuming", revision);
                }
                backoff = MIN_BACKOFF;
            } catch (StatusRuntimeException e) {
                if (closed) {
                    return;
                }
                log.warn("Watching peers failed ({}: {}): retrying in {} ms", e.getStatus().getCode(),
                        e.getStatus().getDescription(), backoff.toMillis());
            } catch (RuntimeException e) {
                if (closed) {
                    return;
                }
                log.warn("Watching peers failed: retrying in {} ms", backoff.toMillis(), e);
            } finally {
                ctx.cancel(null);
            }
            if (heard.getAndSet(false)) {
                // The stream worked before it broke (its replica went away, say): the next one gets a quick retry.
                backoff = MIN_BACKOFF;
            }
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                return;
            }
            backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        }
    }

    /** Applies one message of the watch stream. */
    void apply(WatchPeersResponse msg, Consumer<Peer> onSelf) {
        Peer mine = null;
        boolean mentioned = false;
        synchronized (this) {
            switch (msg.getKind()) {
                case SNAPSHOT -> {
                    Map<String, NodePeer> wanted = new HashMap<>();
                    for (Peer p : msg.getPeersList()) {
                        if (p.getNodeName().equals(self)) {
                            mine = p;
                            mentioned = true;
                        } else {
                            NodePeer n = parse(p);
                            if (n != null) {
                                wanted.put(n.name(), n);
                            }
                        }
                    }
                    for (String gone : List.copyOf(nodes.keySet())) {
                        if (!wanted.containsKey(gone)) {
                            remove(gone);
                        }
                    }
                    wanted.values().forEach(this::put);
                    mentioned = true; // a snapshot without us says we are not registered
                }
                case PUT -> {
                    for (Peer p : msg.getPeersList()) {
                        if (p.getNodeName().equals(self)) {
                            mine = p;
                            mentioned = true;
                        } else {
                            NodePeer n = parse(p);
                            if (n != null) {
                                put(n);
                            } else {
                                remove(p.getNodeName());
                            }
                        }
                    }
                }
                case DELETE -> {
                    for (Peer p : msg.getPeersList()) {
                        if (p.getNodeName().equals(self)) {
                            mentioned = true;
                        } else {
                            remove(p.getNodeName());
                        }
                    }
                }
                default -> log.warn("Ignoring a peer watch message of unknown kind {}", msg.getKindValue());
            }
            revision = Math.max(revision, msg.getRevision());
            synced = true;
            save();
        }
        if (mentioned && onSelf != null) {
            onSelf.accept(mine);
        }
    }

    /** The registry's entry as a wg0 peer, or null (logged) when it is not usable. */
    private NodePeer parse(Peer p) {
        try {
            Key key = Key.fromBase64(p.getPublicKey());
            if (key.equals(device.identity().publicKey())) {
                log.warn("Node {} is registered with this node's own public key: ignoring it", p.getNodeName());
                return null;
            }
            Endpoint endpoint = p.getEndpoint().isEmpty() ? null : Endpoint.parse(p.getEndpoint());
            Set<Prefix> prefixes = new LinkedHashSet<>();
            List<String> texts = new ArrayList<>(p.getAllowedPrefixesList());
            if (texts.isEmpty()) {
                texts.add(p.getSubnet().getIpv4());
                texts.add(p.getSubnet().getIpv6());
            }
            for (String t : texts) {
                if (t.isEmpty()) {
                    continue;
                }
                Prefix prefix = Prefix.parse(t);
                if (ownSubnets.stream().anyMatch(own -> overlaps(own, prefix))) {
                    log.warn("Node {} claims {}, which overlaps this node's subnet: ignoring that prefix",
                            p.getNodeName(), prefix);
                    continue;
                }
                prefixes.add(prefix);
            }
            return new NodePeer(p.getNodeName(), key, endpoint, List.copyOf(prefixes));
        } catch (IllegalArgumentException e) {
            log.warn("Ignoring the registration of node {}: {}", p.getNodeName(), e.getMessage());
            return null;
        }
    }

    static boolean overlaps(Prefix a, Prefix b) {
        if (a.isV4() != b.isV4()) {
            return false;
        }
        Prefix wider = a.bits() <= b.bits() ? a : b;
        Prefix narrower = wider == a ? b : a;
        return wider.contains(narrower.address());
    }

    /** Adds the node, or changes what differs from what wg0 has. */
    private void put(NodePeer next) {
        NodePeer prev = nodes.get(next.name());
        if (next.equals(prev)) {
            return;
        }
        // Another node taking over this key (a node re-created under a new name) takes over its peer.
        for (NodePeer other : List.copyOf(nodes.values())) {
            if (!other.name().equals(next.name()) && other.publicKey().equals(next.publicKey())) {
                remove(other.name());
            }
        }
        io.wgcni.wg.device.Peer peer;
        if (prev == null || !prev.publicKey().equals(next.publicKey())) {
            if (prev != null) {
                device.removePeer(prev.publicKey());
                log.info("Node {}: new public key {}", next.name(), next.publicKey().shortForm());
            } else {
                log.info("Node {}: added ({} at {}, {})", next.name(), next.publicKey().shortForm(), next.endpoint(),
                        next.prefixes());
            }
            peer = device.addPeer(next.publicKey());
            peer.setEndpoint(next.endpoint());
            for (Prefix prefix : next.prefixes()) {
                device.addAllowedIp(peer, prefix);
            }
            peer.setPersistentKeepaliveInterval(PERSISTENT_KEEPALIVE_SECONDS);
        } else {
            peer = device.peer(next.publicKey());
            if (!Objects.equals(prev.endpoint(), next.endpoint())) {
                log.info("Node {}: endpoint {} -> {}", next.name(), prev.endpoint(), next.endpoint());
                peer.setEndpoint(next.endpoint());
            }
            for (Prefix prefix : prev.prefixes()) {
                if (!next.prefixes().contains(prefix)) {
                    device.removeAllowedIp(peer, prefix);
                }
            }
            for (Prefix prefix : next.prefixes()) {
                if (!prev.prefixes().contains(prefix)) {
                    device.addAllowedIp(peer, prefix);
                }
            }
        }
        for (Prefix prefix : prev == null ? List.<Prefix>of() : prev.prefixes()) {
            if (!next.prefixes().contains(prefix)) {
                routes.delete(prefix);
            }
        }
        for (Prefix prefix : next.prefixes()) {
            if (prev == null || !prev.prefixes().contains(prefix)) {
                try {
                    routes.add(prefix);
                } catch (IOException e) {
                    log.warn("Node {}: could not route {}: {}", next.name(), prefix, e.getMessage());
                }
            }
        }
        nodes.put(next.name(), next);
    }

    private void remove(String name) {
        NodePeer prev = nodes.remove(name);
        if (prev == null) {
            return;
        }
        device.removePeer(prev.publicKey());
        prev.prefixes().forEach(routes::delete);
        log.info("Node {}: removed", name);
    }

    /** Stops watching and removes every node peer and route this added. */
    @Override
    public void close() {
        closed = true;
        Context.CancellableContext c = call;
        if (c != null) {
            c.cancel(null);
        }
        Thread t = watcher;
        if (t != null) {
            t.interrupt();
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            for (String name : List.copyOf(nodes.keySet())) {
                remove(name);
            }
        }
    }
}
