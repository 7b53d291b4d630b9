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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
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
 * RemoveNode can revoke them), the name claimed under {@code joined/<name>}, each registered WireGuard key's owner
 * under {@code keys/<hex>}, subnets in {@link Ipam}. Every reply is sent only after its change is durable.
 */
final class ClusterService extends ClusterGrpc.ClusterImplBase {
    private static final Logger log = LoggerFactory.getLogger(ClusterService.class);
    static final String PEERS = WatchHub.PEERS;
    static final String CERTS = "certs/";
    /**
     * joined/NAME = "SERIAL KEYHASH TOKENID": the certificate that claimed the name, the SHA-256 of its public key
     * and the join token's id (so that the same Join repeated gets the same certificate); removed with the node.
     * certs/NAME/SERIAL holds that certificate (DER).
     */
    static final String JOINED = "joined/";
    static final String KEYS = "keys/";
    private static final int RETRIES = 5;

    private final Store store;
    private final Ipam ipam;
    private final Pki pki;
    private final Tokens tokens;
    private final WatchHub hub;
    private final Metrics metrics;
    private final Executor replies;
    private final RateLimit registrations;

    ClusterService(Store store, Ipam ipam, Pki pki, Tokens tokens, WatchHub hub, Metrics metrics, Executor replies) {
        this(store, ipam, pki, tokens, hub, metrics, replies, RateLimit.registrations());
    }

    ClusterService(Store store, Ipam ipam, Pki pki, Tokens tokens, WatchHub hub, Metrics metrics, Executor replies,
            RateLimit registrations) {
        this.registrations = registrations;
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
                throw Status.UNAUTHENTICATED.withDescription("the join token is unknown, wrong or expired")
                        .asRuntimeException();
            }
            String node = Validation.nodeName(request.getNodeName());
            PublicKey key;
            try {
                key = Pki.parseNodeKey(request.getPublicKeyDer().toByteArray());
            } catch (IllegalArgumentException e) {
                throw Validation.invalid(e.getMessage());
            }
            String claim = claim(key, request.getToken());
            Optional<KeyValue> joined = store.get(JOINED + node);
            if (joined.isPresent()) {
                // The same key with the same token: the reply to an earlier Join was lost, or the node crashed
                // before saving it. It gets the certificate it was issued then; anyone else is refused.
                out.onNext(rejoin(node, joined.get(), claim));
                out.onCompleted();
                return;
            }
            X509Certificate cert = pki.issueNode(key, node);
            String serial = cert.getSerialNumber().toString(16);
            byte[] der;
            try {
                der = cert.getEncoded();
            } catch (CertificateEncodingException e) {
                throw new IllegalStateException(e);
            }
            // The name is claimed in the same transaction that records the certificate: of two joins racing for
            // one name, one wins and the other's certificate is never handed out.
            reply(out, store.commit(new Store.Txn(List.of(Compare.absent(JOINED + node)), List.of(
                            new Store.Put(JOINED + node, (serial + " " + claim).getBytes(StandardCharsets.US_ASCII)),
                            new Store.Put(CERTS + node + "/" + serial, der))))
                    .thenApplyAsync(r -> {
                        if (!r.succeeded()) {
                            return rejoin(node, store.get(JOINED + node).orElseThrow(() -> nameTaken(node)), claim);
                        }
                        log.info("node joined node={} certificate-serial={}", node, serial);
                        return joinResponse(der);
                    }, replies));
        });
    }

    /** What a Join claims a name with: the SHA-256 of its TLS public key and the id of its token. */
    private static String claim(PublicKey key, String token) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
            return HexFormat.of().formatHex(hash) + " " + token.substring(0, token.indexOf('.'));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The certificate an earlier Join of the same claim was issued, or PERMISSION_DENIED. */
    private JoinResponse rejoin(String node, KeyValue joined, String claim) {
        String value = utf8(joined.value());
        int space = value.indexOf(' ');
        if (space < 0 || !value.substring(space + 1).equals(claim)) {
            throw nameTaken(node);
        }
        String serial = value.substring(0, space);
        byte[] der = store.get(CERTS + node + "/" + serial).map(KeyValue::value).orElse(new byte[0]);
        if (der.length == 0) {
            throw nameTaken(node);
        }
        log.info("node joined again with the same key and token node={} certificate-serial={}", node, serial);
        return joinResponse(der);
    }

    private JoinResponse joinResponse(byte[] certificateDer) {
        try {
            return JoinResponse.newBuilder()
                    .setCertificateDer(ByteString.copyFrom(certificateDer))
                    .setCaCertificateDer(ByteString.copyFrom(pki.ca().getEncoded()))
                    .build();
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
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
            if (!Identity.current().admin() && !registrations.tryAcquire(node)) {
                log.warn("registration refused node={}: more than {} in a burst", node, registrations.burst());
                throw Status.RESOURCE_EXHAUSTED.withDescription("node " + node + " registers too often (at most "
                        + registrations.burst() + " at once, then one every " + registrations.interval().toSeconds()
                        + " s): retry later").asRuntimeException();
            }
            reply(out, retrying(() -> {
                Allocation a = ipam.get(node).orElseThrow(() -> Status.FAILED_PRECONDITION
                        .withDescription("node " + node + " holds no subnet: call AllocateSubnet first")
                        .asRuntimeException());
                Peer peer = Peer.newBuilder().setNodeName(node).setPublicKey(key).setEndpoint(endpoint)
                        .addAllAllowedPrefixes(Validation.allowedPrefixes(request.getAllowedPrefixesList(), a))
                        .setSubnet(subnet(a)).build();
                Optional<KeyValue> current = store.get(PEERS + node);
                Optional<KeyValue> owner = store.get(keyIndex(key));
                if (owner.isPresent() ? !node.equals(utf8(owner.get().value())) : heldByAnother(key, node)) {
                    throw keyTaken(node);
                }
                // The key's index entry is compared in the same transaction that records the peer: of two nodes
                // racing for one key, one gets it and the other fails the compare and is refused on its retry.
                List<Compare> compares = List.of(new Compare(a.key(), a.modRevision()),
                        new Compare(PEERS + node, current.map(KeyValue::modRevision).orElse(0L)),
                        new Compare(keyIndex(key), owner.map(KeyValue::modRevision).orElse(0L)));
                List<Op> ops = new ArrayList<>();
                ops.add(new Store.Put(PEERS + node, peer.toByteArray()));
                if (owner.isEmpty()) {
                    ops.add(new Store.Put(keyIndex(key), node.getBytes(StandardCharsets.UTF_8)));
                }
                current.map(kv -> WatchHub.peer(kv).getPublicKey()).filter(old -> !old.equals(key))
                        .ifPresent(old -> ops.add(new Store.Delete(keyIndex(old))));
                return store.commit(new Store.Txn(compares, ops))
                        .thenApply(r -> r.succeeded()
                                ? Optional.of(peer.toBuilder().setRevision(r.revision()).build())
                                : Optional.<Peer>empty());
            }).thenApply(peer -> {
                metrics.registrations.inc();
                log.info("peer registered node={} public-key={} endpoint={} revision={}", node, peer.getPublicKey(),
                        peer.getEndpoint(), peer.getRevision());
                return RegisterPeerResponse.newBuilder().setPeer(peer).build();
            }));
        });
    }

    /** keys/HEX = the node that registered that WireGuard public key: a key belongs to one node at a time. */
    static String keyIndex(String base64Key) {
        return KEYS + HexFormat.of().formatHex(Base64.getDecoder().decode(base64Key));
    }

    /** A registration from before the key index existed that holds key for another node. */
    private boolean heldByAnother(String key, String node) {
        for (KeyValue kv : store.range(PEERS).kvs()) {
            if (!kv.key().equals(PEERS + node) && WatchHub.peer(kv).getPublicKey().equals(key)) {
                return true;
            }
        }
        return false;
    }

    private static StatusRuntimeException keyTaken(String node) {
        log.warn("registration refused node={}: its public key is registered to another node", node);
        return Status.ALREADY_EXISTS.withDescription("public_key: this key is registered to another node; every node"
                + " needs a key of its own").asRuntimeException();
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
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
            Identity caller = Identity.current();
            hub.watch(request.getSinceRevision(), caller == null ? null : caller.serial(),
                    (ServerCallStreamObserver<WatchPeersResponse>) out);
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
                compares.add(a.map(x -> new Compare(x.key(), x.modRevision()))
                        .orElse(Compare.absent(Ipam.nodeKey(node))));
                compares.add(new Compare(PEERS + node, peer.map(KeyValue::modRevision).orElse(0L)));
                a.ifPresent(x -> ops.addAll(Ipam.releaseOps(x)));
                peer.ifPresent(p -> {
                    ops.add(new Store.Delete(PEERS + node));
                    String index = keyIndex(WatchHub.peer(p).getPublicKey());
                    store.get(index).filter(k -> node.equals(utf8(k.value())))
                            .ifPresent(k -> ops.add(new Store.Delete(index)));
                });
                store.get(JOINED + node).ifPresent(j -> ops.add(new Store.Delete(j.key())));
                for (KeyValue c : certs) {
                    ops.add(new Store.Delete(c.key()));
                    ops.add(new Store.Put(AuthInterceptor.REVOKED + c.key().substring(c.key().lastIndexOf('/') + 1),
                            new byte[0]));
                }
                return store.commit(new Store.Txn(compares, ops))
                        .thenApply(r -> r.succeeded() ? Optional.of(r.revision()) : Optional.<Long>empty());
            }).thenApply(revision -> {
                registrations.forget(node);
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
                + "again under that name, remove it first (cluster-manager node remove " + node + ")")
                .asRuntimeException();
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

    private static <T> void retry(Supplier<CompletableFuture<Optional<T>>> attempt, CompletableFuture<T> result,
            int left) {
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
            case SubnetsExhaustedException x ->
                    Status.RESOURCE_EXHAUSTED.withDescription(x.getMessage()).asRuntimeException();
            case StoreException x -> Status.UNAVAILABLE.withDescription(x.getMessage()).asRuntimeException();
            default -> {
                log.error("request failed", cause);
                yield Status.INTERNAL.withDescription(cause.toString()).asRuntimeException();
            }
        };
    }
}
