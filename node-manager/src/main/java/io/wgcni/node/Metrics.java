package io.wgcni.node;

import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.api.node.v1.StatusResponse;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Prometheus metrics, names {@code wgcni_node_*}: wg0's peers by kind, each peer's handshake age and bytes,
 * the attachments and how long attaching takes. Peer figures are read when scraped (callbacks), never counted on
 * the packet path.
 */
final class Metrics implements AutoCloseable {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Histogram attachSeconds = Histogram.builder()
            .name("wgcni_node_attach_duration_seconds")
            .help("Time to attach a container (Attach calls that succeeded)")
            .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
            .withoutExemplars() // no traces to link to; the exemplar sampler would keep a scheduler thread
            .register(registry);
    private HTTPServer server;

    /** Registers the callbacks that read the node's state through {@code api}. */
    void bind(NodeApi api) {
        Supplier<List<PeerInfo>> peers = api::peers;
        GaugeWithCallback.builder().name("wgcni_node_ready").help("1 when the node serves Attach")
                .callback(cb -> cb.call(api.status(StatusRequest.getDefaultInstance()).getReady() ? 1 : 0))
                .register(registry);
        GaugeWithCallback.builder().name("wgcni_node_attachments").help("Containers attached to this node")
                .callback(cb -> {
                    StatusResponse s = api.status(StatusRequest.getDefaultInstance());
                    cb.call(s.getAttachments());
                })
                .register(registry);
        GaugeWithCallback.builder().name("wgcni_node_peers").help("Peers of wg0, by kind").labelNames("kind")
                .callback(cb -> {
                    Map<PeerInfo.Kind, Integer> counts = new EnumMap<>(PeerInfo.Kind.class);
                    for (PeerInfo.Kind k : List.of(PeerInfo.Kind.NODE, PeerInfo.Kind.CONTAINER, PeerInfo.Kind.CLIENT)) {
                        counts.put(k, 0);
                    }
                    peers.get().forEach(p -> counts.merge(p.getKind(), 1, Integer::sum));
                    counts.forEach((k, n) -> cb.call(n, kind(k)));
                })
                .register(registry);
        GaugeWithCallback.builder().name("wgcni_node_peer_last_handshake_age_seconds")
                .help("Seconds since the peer's latest handshake with wg0 (absent before the first)")
                .labelNames("kind", "name")
                .callback(cb -> {
                    long now = System.currentTimeMillis() / 1000;
                    for (PeerInfo p : peers.get()) {
                        if (p.getLatestHandshakeUnix() > 0) {
                            cb.call(Math.max(0, now - p.getLatestHandshakeUnix()), kind(p.getKind()), p.getName());
                        }
                    }
                })
                .register(registry);
        CounterWithCallback.builder().name("wgcni_node_peer_receive_bytes").help("Bytes wg0 received from the peer")
                .labelNames("kind", "name")
                .callback(cb -> peers.get().forEach(p -> cb.call(p.getRxBytes(), kind(p.getKind()), p.getName())))
                .register(registry);
        CounterWithCallback.builder().name("wgcni_node_peer_transmit_bytes").help("Bytes wg0 sent to the peer")
                .labelNames("kind", "name")
                .callback(cb -> peers.get().forEach(p -> cb.call(p.getTxBytes(), kind(p.getKind()), p.getName())))
                .register(registry);
    }

    private static String kind(PeerInfo.Kind k) {
        return k.name().toLowerCase(Locale.ROOT);
    }

    void attached(long nanos) {
        attachSeconds.observe(nanos / 1e9);
    }

    /** Serves {@code /metrics} (and {@code /-/healthy}) over HTTP. */
    void serve(InetSocketAddress address) throws IOException {
        // A virtual thread per scrape: the default pool keeps a platform thread idle between scrapes.
        server = HTTPServer.builder().inetAddress(address.getAddress()).port(address.getPort()).registry(registry)
                .executorService(Executors.newVirtualThreadPerTaskExecutor()).buildAndStart();
    }

    int port() {
        return server == null ? -1 : server.getPort();
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
    }
}
