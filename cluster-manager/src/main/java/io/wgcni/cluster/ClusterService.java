package io.wgcni.cluster;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.wgcni.api.cluster.v1.AllocateSubnetRequest;
import io.wgcni.api.cluster.v1.AllocateSubnetResponse;
import io.wgcni.api.cluster.v1.ClusterGrpc;
import io.wgcni.api.cluster.v1.JoinRequest;
import io.wgcni.api.cluster.v1.JoinResponse;
import io.wgcni.api.cluster.v1.ListPeersRequest;
import io.wgcni.api.cluster.v1.ListPeersResponse;
import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.RegisterPeerRequest;
import io.wgcni.api.cluster.v1.RegisterPeerResponse;
import io.wgcni.api.cluster.v1.RemoveNodeRequest;
import io.wgcni.api.cluster.v1.RemoveNodeResponse;
import io.wgcni.api.cluster.v1.Subnet;
import io.wgcni.api.cluster.v1.WatchPeersRequest;
import io.wgcni.api.cluster.v1.WatchPeersResponse;
import io.wgcni.cluster.auth.AuthInterceptor;
import io.wgcni.cluster.auth.Identity;
import io.wgcni.cluster.auth.Pki;
import io.wgcni.cluster.auth.Tokens;
import io.wgcni.cluster.ipam.Ipam;
import io.wgcni.cluster.ipam.Ipam.Allocation;
import io.wgcni.cluster.ipam.SubnetsExhaustedException;
import io.wgcni.cluster.store.Store;
import io.wgcni.cluster.store.Store.Compare;
import io.wgcni.cluster.store.Store.KeyValue;
import io.wgcni.cluster.store.Store.Op;
import io.wgcni.cluster.store.StoreException;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Cluster gRPC service. Node registrations live under {@code peers/<name>} (a Peer message, its revision
 * being the key's mod revision), certificates issued to a node under {@code certs/<name>/<serial>} (so that
 * RemoveNode can revoke them), the name claimed under {@code joined/<name>}, subnets in {@link Ipam}. Every reply is sent only after its change is durable.
 */
final class ClusterService extends ClusterGrpc.ClusterImplBase {
    private static final Logger log = LoggerFactory.getLogger(ClusterService.class);
    static final String PEERS = WatchHub.PEERS;
    static final String CERTS = "certs/";
    /** joined/NAME = the serial of the certificate that claimed the name; removed with the node. */
    static final String JOINED = "joined/";
    private static final int RETRIES = 5;

    private final Store store;
    private final Ipam ipam;
    private final Pki pki;
    private final Tokens tokens;
    private final WatchHub hub;
    private final Metrics metrics;
    private final Executor replies;

    ClusterService(Store store, Ipam ipam, Pki pki, Tokens tokens, WatchHub hub, Metrics metrics, Executor replies) {
        this.store = store;
        this.ipam = ipam;
        this.pki = pki;
        this.tokens = tokens;
        this.hub = hub;
        this.metrics = metrics;
        this.replies = replies;
    }

    @Override
    public void join(JoinRequest request, StreamObserver<JoinResponse> out) {
        guarded(out, () -> {
            if (!tokens.valid(request.getToken())) {
                log.warn("join refused node={}: invalid or expired token", request.getNodeName());
                throw Status.UNAUTHENTICATED.withDescription("the join token is unknown, wrong or expired").asRuntimeException();
            }
            String node = Validation.nodeName(request.getNodeName());
            PublicKey key;
            try {
                key = Pki.parseNodeKey(request.getPublicKeyDer().toByteArray());
            } catch (IllegalArgumentException e) {
                throw Validation.invalid(e.getMessage());
            }
            if (store.get(JOINED + node).isPresent()) {
                throw nameTaken(node);
            }
            X509Certificate cert = pki.issueNode(key, node);
            String serial = cert.getSerialNumber().toString(16);
            // The name is claimed in the same transaction that records the certificate: of two joins racing for
            // one name, one wins and the other's certificate is never handed out.
            reply(out, store.commit(new Store.Txn(List.of(Compare.absent(JOINED + node)), List.of(
                            new Store.Put(JOINED + node, serial.getBytes(StandardCharsets.US_ASCII)),
                            new Store.Put(CERTS + node + "/" + serial, new byte[0]))))
                    .thenApply(r -> {
                        if (!r.succeeded()) {
                            throw nameTaken(node);
                        }
                        log.info("node joined node={} certificate-serial={}", node, serial);
                        try {
                            return JoinResponse.newBuilder()
                                    .setCertificateDer(ByteString.copyFrom(cert.getEncoded()))
                                    .setCaCertificateDer(ByteString.copyFrom(pki.ca().getEncoded()))
                                    .build();
                        } catch (CertificateEncodingException e) {
                            throw new IllegalStateException(e);
                        }
                    }));
        });
    }

    @Override
    public void allocateSubnet(AllocateSubnetRequest request, StreamObserver<AllocateSubnetResponse> out) {
        guarded(out, () -> {
            String node = authorize(request.getNodeName());
            reply(out, ipam.allocate(node).thenApply(a -> AllocateSubnetResponse.newBuilder()
                    .setSubnet(subnet(a))
                    .setCluster(Subnet.newBuilder().setIpv4(ipam.settings().v4().toString())
                            .setIpv6(ipam.settings().v6() == null ? "" : ipam.settings().v6().toString()))
                    .build()));
        });
    }

    @Override
    public void registerPeer(RegisterPeerRequest request, StreamObserver<RegisterPeerResponse> out) {
        guarded(out, () -> {
            String node = authorize(request.getNodeName());
            String key = Validation.publicKey(request.getPublicKey());
            String endpoint = Validation.endpoint(request.getEndpoint());
            reply(out, retrying(() -> {
                Allocation a = ipam.get(node).orElseThrow(() -> Status.FAILED_PRECONDITION
                        .withDescription("node " + node + " holds no subnet: call AllocateSubnet first").asRuntimeException());
                Peer peer = Peer.newBuilder().setNodeName(node).setPublicKey(key).setEndpoint(endpoint)
                        .addAllAllowedPrefixes(Validation.allowedPrefixes(request.getAllowedPrefixesList(), a))
                        .setSubnet(subnet(a)).build();
                return store.commit(new Store.Txn(List.of(new Compare(a.key(), a.modRevision())),
                                List.of(new Store.Put(PEERS + node, peer.toByteArray()))))
                        .thenApply(r -> r.succeeded() ? Optional.of(peer.toBuilder().setRevision(r.revision()).build()) : Optional.<Peer>empty());
            }).thenApply(peer -> {
                metrics.registrations.inc();
                log.info("peer registered node={} public-key={} endpoint={} revision={}", node, peer.getPublicKey(),
                        peer.getEndpoint(), peer.getRevision());
                return RegisterPeerResponse.newBuilder().setPeer(peer).build();
            }));
        });
    }

    @Override
    public void listPeers(ListPeersRequest request, StreamObserver<ListPeersResponse> out) {
        guarded(out, () -> {
            Store.Range range = store.range(PEERS);
            ListPeersResponse.Builder b = ListPeersResponse.newBuilder().setRevision(range.revision());
            range.kvs().forEach(kv -> b.addPeers(WatchHub.peer(kv)));
            out.onNext(b.build());
            out.onCompleted();
        });
    }

    @Override
    public void watchPeers(WatchPeersRequest request, StreamObserver<WatchPeersResponse> out) {
        guarded(out, () -> {
            hub.watch(request.getSinceRevision(), (ServerCallStreamObserver<WatchPeersResponse>) out);
        });
    }

    @Override
    public void removeNode(RemoveNodeRequest request, StreamObserver<RemoveNodeResponse> out) {
        guarded(out, () -> {
            String node = authorize(request.getNodeName());
            reply(out, retrying(() -> {
                Optional<Allocation> a = ipam.get(node);
                Optional<KeyValue> peer = store.get(PEERS + node);
                List<KeyValue> certs = store.range(CERTS + node + "/").kvs();
                List<Compare> compares = new ArrayList<>();
                List<Op> ops = new ArrayList<>();
                compares.add(a.map(x -> new Compare(x.key(), x.modRevision())).orElse(Compare.absent(Ipam.nodeKey(node))));
                compares.add(new Compare(PEERS + node, peer.map(KeyValue::modRevision).orElse(0L)));
                a.ifPresent(x -> ops.addAll(Ipam.releaseOps(x)));
                peer.ifPresent(p -> ops.add(new Store.Delete(PEERS + node)));
                store.get(JOINED + node).ifPresent(j -> ops.add(new Store.Delete(j.key())));
                for (KeyValue c : certs) {
                    ops.add(new Store.Delete(c.key()));
                    ops.add(new Store.Put(AuthInterceptor.REVOKED + c.key().substring(c.key().lastIndexOf('/') + 1), new byte[0]));
                }
                return store.commit(new Store.Txn(compares, ops))
                        .thenApply(r -> r.succeeded() ? Optional.of(r.revision()) : Optional.<Long>empty());
            }).thenApply(revision -> {
                log.info("node removed node={} revision={}", node, revision);
                return RemoveNodeResponse.newBuilder().setRevision(revision).build();
            }));
        });
    }

    /**
     * A join token lets a host become a new node, not an existing one: while a name holds a certificate, only
     * that certificate acts as it, and an admin's RemoveNode frees the name.
     */
    private static StatusRuntimeException nameTaken(String node) {
        log.warn("join refused node={}: the name has joined already", node);
        return Status.PERMISSION_DENIED.withDescription("node " + node + " has already joined this cluster; to join "
                + "again under that name, remove it first (cluster-manager node remove " + node + ")").asRuntimeException();
    }

    /** Runs a handler body; whatever it throws becomes the call's status (gRPC would send UNKNOWN). */
    private static void guarded(StreamObserver<?> out, Runnable body) {
        try {
            body.run();
        } catch (RuntimeException e) {
            out.onError(status(e));
        }
    }

    /** The node name, if valid and the caller may act on it. */
    private static String authorize(String node) {
        Validation.nodeName(node);
        Identity caller = Identity.current();
        if (caller == null || !caller.mayActOn(node)) {
            throw Status.PERMISSION_DENIED.withDescription("node " + (caller == null ? "?" : caller.name())
                    + " may not act on node " + node).asRuntimeException();
        }
        return node;
    }

    private static Subnet subnet(Allocation a) {
        return Subnet.newBuilder().setIpv4(a.v4().toString()).setIpv6(a.v6() == null ? "" : a.v6().toString()).build();
    }

    /** Runs a read-then-compare-and-set attempt until its compares hold (another writer got in between otherwise). */
    private static <T> CompletableFuture<T> retrying(Supplier<CompletableFuture<Optional<T>>> attempt) {
        CompletableFuture<T> result = new CompletableFuture<>();
        retry(attempt, result, RETRIES);
        return result;
    }

    private static <T> void retry(Supplier<CompletableFuture<Optional<T>>> attempt, CompletableFuture<T> result, int left) {
        CompletableFuture<Optional<T>> f;
        try {
            f = attempt.get();
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
            return;
        }
        f.whenComplete((value, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
            } else if (value.isPresent()) {
                result.complete(value.get());
            } else if (left > 0) {
                retry(attempt, result, left - 1);
            } else {
                result.completeExceptionally(Status.ABORTED.withDescription("concurrent changes to the same node kept"
                        + " conflicting; retry").asRuntimeException());
            }
        });
    }

    /** Sends the future's value, or its failure as a status, on the reply executor (never the store's writer). */
    private <T> void reply(StreamObserver<T> out, CompletableFuture<T> future) {
        future.whenCompleteAsync((value, e) -> {
            if (e == null) {
                out.onNext(value);
                out.onCompleted();
            } else {
                out.onError(status(e));
            }
        }, replies);
    }

    static StatusRuntimeException status(Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        return switch (cause) {
            case StatusRuntimeException s -> s;
            case SubnetsExhaustedException x -> Status.RESOURCE_EXHAUSTED.withDescription(x.getMessage()).asRuntimeException();
            case StoreException x -> Status.UNAVAILABLE.withDescription(x.getMessage()).asRuntimeException();
            default -> {
                log.error("request failed", cause);
                yield Status.INTERNAL.withDescription(cause.toString()).asRuntimeException();
            }
        };
    }
}
