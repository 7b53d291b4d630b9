package io.wgcni.cluster;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.wgcni.cluster.ipam.Ipam;

/** The cluster-manager's Prometheus metrics, all named wgcni_cluster_*. */
public final class Metrics {
    final PrometheusRegistry registry = new PrometheusRegistry();
    final Counter registrations = Counter.builder().name("wgcni_cluster_registrations_total")
            .help("Peer registrations accepted (new keys, rotations, endpoint changes)").register(registry);
    private final Histogram requests = Histogram.builder().name("wgcni_cluster_request_duration_seconds")
            .help("gRPC request duration by method and status code").labelNames("method", "code")
            .classicOnly().classicUpperBounds(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
            .register(registry);

    void watch(WatchHub hub, Ipam ipam) {
        CounterWithCallback.builder().name("wgcni_cluster_allocations_total").help("Subnets newly allocated to nodes")
                .callback(cb -> cb.call(ipam.allocations())).register(registry);
        GaugeWithCallback.builder().name("wgcni_cluster_watchers").help("Open WatchPeers streams")
                .callback(cb -> cb.call(hub.size())).register(registry);
        GaugeWithCallback.builder().name("wgcni_cluster_subnets_allocated").help("Subnets held by nodes")
                .callback(cb -> cb.call(ipam.allocatedCount())).register(registry);
        GaugeWithCallback.builder().name("wgcni_cluster_subnets_free").help("Subnets left to allocate")
                .callback(cb -> cb.call(ipam.capacity() - ipam.allocatedCount())).register(registry);
    }

    /** Times every call, streams from start to close, labelled with the bare method name and the status code. */
    ServerInterceptor interceptor() {
        return new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                    ServerCallHandler<Q, A> next) {
                long start = System.nanoTime();
                String method = call.getMethodDescriptor().getBareMethodName();
                return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                    @Override
                    public void close(Status status, Metadata trailers) {
                        requests.labelValues(method, status.getCode().name())
                                .observe((System.nanoTime() - start) / 1e9);
                        super.close(status, trailers);
                    }
                }, headers);
            }
        };
    }
}
