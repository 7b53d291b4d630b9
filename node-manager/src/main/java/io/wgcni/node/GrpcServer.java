package io.wgcni.node;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.StreamObserver;
import io.wgcni.api.node.v1.AllocateAddressRequest;
import io.wgcni.api.node.v1.AllocateAddressResponse;
import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.CheckRequest;
import io.wgcni.api.node.v1.CheckResponse;
import io.wgcni.api.node.v1.DetachRequest;
import io.wgcni.api.node.v1.DetachResponse;
import io.wgcni.api.node.v1.GarbageCollectRequest;
import io.wgcni.api.node.v1.GarbageCollectResponse;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.ListPeersResponse;
import io.wgcni.api.node.v1.NodeGrpc;
import io.wgcni.api.node.v1.RegisterPeerRequest;
import io.wgcni.api.node.v1.RegisterPeerResponse;
import io.wgcni.api.node.v1.RotateKeyRequest;
import io.wgcni.api.node.v1.RotateKeyResponse;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.api.node.v1.StatusResponse;
import io.wgcni.wg.io.UnixSockets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Service Node and the gRPC health service on a unix socket (mode 0600), for operators, tests and external
 * clients' tooling. Calls run on virtual threads: Attach forks {@code ip} and may wait on a namespace.
 */
final class GrpcServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

    private final Path path;
    private final Server server;
    private final EpollEventLoopGroup group;
    private final HealthStatusManager health;
    private final ExecutorService calls;

    private GrpcServer(Path path, Server server, EpollEventLoopGroup group, HealthStatusManager health,
            ExecutorService calls) {
        this.path = path;
        this.server = server;
        this.group = group;
        this.health = health;
        this.calls = calls;
    }

    static GrpcServer start(Path path, NodeApi api) throws IOException {
        EpollEventLoopGroup group = new EpollEventLoopGroup(1);
        HealthStatusManager health = new HealthStatusManager();
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
        health.setStatus(NodeGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
        ExecutorService calls = Executors.newVirtualThreadPerTaskExecutor();
        try {
            Server server = UnixSockets.bindPrivately(path, "node-manager", p -> NettyServerBuilder
                    .forAddress(new DomainSocketAddress(p.toString()))
                    .channelType(EpollServerDomainSocketChannel.class)
                    .bossEventLoopGroup(group)
                    .workerEventLoopGroup(group)
                    .executor(calls)
                    .addService(new Service(api))
                    .addService(health.getHealthService())
                    .build()
                    .start(), Server::shutdownNow);
            return new GrpcServer(path, server, group, health, calls);
        } catch (IOException | RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            calls.shutdownNow();
            throw e;
        }
    }

    /** What the health service answers (for the whole server and for service Node). */
    void serving(boolean serving) {
        ServingStatus s = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, s);
        health.setStatus(NodeGrpc.SERVICE_NAME, s);
    }

    @Override
    public void close() {
        health.enterTerminalState();
        server.shutdown();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        calls.shutdownNow();
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            log.warn("Could not remove {}: {}", path, e.getMessage());
        }
    }

    /** The gRPC binding of {@link NodeApi}. */
    private static final class Service extends NodeGrpc.NodeImplBase {
        private final NodeApi api;

        Service(NodeApi api) {
            this.api = api;
        }

        @FunctionalInterface
        private interface Call<Q, R> {
            R apply(Q request) throws StatusException;
        }

        private static <Q, R> void unary(Q request, StreamObserver<R> out, Call<Q, R> call) {
            R response;
            try {
                response = call.apply(request);
            } catch (StatusException e) {
                out.onError(e);
                return;
            } catch (RuntimeException e) {
                log.error("{} failed", request.getClass().getSimpleName(), e);
                out.onError(Status.INTERNAL.withDescription("node-manager failed: " + e).asException());
                return;
            }
            out.onNext(response);
            out.onCompleted();
        }

        @Override
        public void attach(AttachRequest request, StreamObserver<AttachResponse> out) {
            unary(request, out, api::attach);
        }

        @Override
        public void detach(DetachRequest request, StreamObserver<DetachResponse> out) {
            unary(request, out, api::detach);
        }

        @Override
        public void check(CheckRequest request, StreamObserver<CheckResponse> out) {
            unary(request, out, api::check);
        }

        @Override
        public void garbageCollect(GarbageCollectRequest request, StreamObserver<GarbageCollectResponse> out) {
            unary(request, out, api::garbageCollect);
        }

        @Override
        public void status(StatusRequest request, StreamObserver<StatusResponse> out) {
            unary(request, out, api::status);
        }

        @Override
        public void allocateAddress(AllocateAddressRequest request, StreamObserver<AllocateAddressResponse> out) {
            unary(request, out, api::allocateAddress);
        }

        @Override
        public void registerPeer(RegisterPeerRequest request, StreamObserver<RegisterPeerResponse> out) {
            unary(request, out, api::registerPeer);
        }

        @Override
        public void listPeers(ListPeersRequest request, StreamObserver<ListPeersResponse> out) {
            unary(request, out, api::listPeers);
        }

        @Override
        public void rotateKey(RotateKeyRequest request, StreamObserver<RotateKeyResponse> out) {
            unary(request, out, api::rotateKey);
        }
    }
}
