package io.wgcni.node;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.wgcni.api.node.v1.AllocateAddressRequest;
import io.wgcni.api.node.v1.AllocateAddressResponse;
import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.AttachmentRef;
import io.wgcni.api.node.v1.CheckRequest;
import io.wgcni.api.node.v1.CheckResponse;
import io.wgcni.api.node.v1.DetachRequest;
import io.wgcni.api.node.v1.DetachResponse;
import io.wgcni.api.node.v1.GarbageCollectRequest;
import io.wgcni.api.node.v1.GarbageCollectResponse;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.ListPeersResponse;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.RegisterPeerRequest;
import io.wgcni.api.node.v1.RegisterPeerResponse;
import io.wgcni.api.node.v1.Route;
import io.wgcni.api.node.v1.RotateKeyRequest;
import io.wgcni.api.node.v1.RotateKeyResponse;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.api.node.v1.StatusResponse;
import io.wgcni.node.attach.AttachmentException;
import io.wgcni.node.attach.Attachments;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.InetAddresses;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node API (service Node of node.proto), whichever transport carries it: the gRPC socket and the CNI socket
 * both call these methods. Until the node is ready (joined, wg0 up, attachments loaded) every call but Status is
 * refused with UNAVAILABLE and the phase the node is in.
 *
 * <p>This is the edge between node.proto and the node's own code: requests become {@link Attachments}' values
 * here, its results become the replies, and its {@link AttachmentException}s statuses ({@link #code}).
 */
final class NodeApi {
    private static final Logger log = LoggerFactory.getLogger(NodeApi.class);

    /** Everything a ready node has. {@code subnetV6} is null in an IPv4-only cluster. */
    record Ready(String nodeName, Prefix subnetV4, Prefix subnetV6, List<Prefix> cluster, String endpoint,
            NodeInterface wg0, Attachments attachments, PeerSync peers, Clients clients, NodeKeyRotation rotation) {}

    /**
     * Rotates the node's own key ({@link NodeDaemon#rotateKey}); a failure of the cluster-manager's comes as its
     * status.
     */
    @FunctionalInterface
    interface NodeKeyRotation {
        Attachments.KeyChange rotate() throws IOException;
    }

    private final Metrics metrics;
    private volatile Ready ready;
    private volatile String phase = "starting";

    NodeApi(Metrics metrics) {
        this.metrics = metrics;
    }

    void phase(String phase) {
        this.phase = phase;
    }

    void ready(Ready ready) {
        this.ready = ready;
    }

    /** Refuses calls from now on (shutdown). */
    void stopping() {
        phase = "shutting down";
        ready = null;
    }

    private Ready requireReady() throws StatusException {
        Ready r = ready;
        if (r == null) {
            throw Status.UNAVAILABLE.withDescription("node-manager is not ready: " + phase).asException();
        }
        return r;
    }

    /** The status an {@link AttachmentException} answers, each kind its own: the one place they are mapped. */
    static Status.Code code(AttachmentException.Kind kind) {
        return switch (kind) {
            case INVALID -> Status.Code.INVALID_ARGUMENT;
            case EXISTS -> Status.Code.ALREADY_EXISTS;
            case EXHAUSTED -> Status.Code.RESOURCE_EXHAUSTED;
            case NOT_FOUND -> Status.Code.NOT_FOUND;
            case WRONG_STATE -> Status.Code.FAILED_PRECONDITION;
            case UNAVAILABLE -> Status.Code.UNAVAILABLE;
            case INTERNAL -> Status.Code.INTERNAL;
        };
    }

    static StatusException status(AttachmentException e) {
        return Status.fromCode(code(e.kind())).withDescription(e.getMessage()).withCause(e.getCause()).asException();
    }

    AttachResponse attach(AttachRequest request) throws StatusException {
        Ready r = requireReady();
        long start = System.nanoTime();
        Attachments.Attached attached;
        try {
            attached = r.attachments().attach(new Attachments.Attach(request.getContainerId(), request.getIfname(),
                    request.getNetns(), request.getMtu(), request.getNetworkName(), request.getReplaceDefaultRoute()));
        } catch (AttachmentException e) {
            throw status(e);
        }
        metrics.attached(System.nanoTime() - start);
        log.info("Attached {} {} in {}: {} ({} ms)", request.getContainerId(), request.getIfname(),
                request.getNetns(), attached.addresses(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        return response(attached);
    }

    /** The CNI result of an attach: a default route through each of the interface's gateways. */
    static AttachResponse response(Attachments.Attached a) {
        AttachResponse.Builder b = AttachResponse.newBuilder().setIfname(a.ifname()).setSandbox(a.sandbox())
                .setMtu(a.mtu()).setPublicKey(a.publicKey().toBase64()).addAllAddresses(a.addresses());
        for (InetAddress gateway : a.gateways()) {
            String gw = InetAddresses.format(gateway);
            b.addGateways(gw);
            b.addRoutes(Route.newBuilder().setDst(gateway.getAddress().length == 4 ? "0.0.0.0/0" : "::/0").setGw(gw));
        }
        return b.build();
    }

    DetachResponse detach(DetachRequest request) throws StatusException {
        Ready r = requireReady();
        try {
            r.attachments().detach(request.getContainerId(), request.getIfname());
        } catch (AttachmentException e) {
            throw status(e);
        }
        log.info("Detached {} {}", request.getContainerId(), request.getIfname());
        return DetachResponse.getDefaultInstance();
    }

    CheckResponse check(CheckRequest request) throws StatusException {
        Ready r = requireReady();
        try {
            r.attachments().check(new Attachments.Check(request.getContainerId(), request.getIfname(),
                    request.getNetns(), request.getNetworkName(), List.copyOf(request.getExpectedAddressesList())));
        } catch (AttachmentException e) {
            throw status(e);
        }
        return CheckResponse.getDefaultInstance();
    }

    GarbageCollectResponse garbageCollect(GarbageCollectRequest request) throws StatusException {
        Ready r = requireReady();
        Set<Attachments.Ref> valid = new HashSet<>();
        for (AttachmentRef ref : request.getValidList()) {
            valid.add(new Attachments.Ref(ref.getContainerId(), ref.getIfname()));
        }
        List<Attachments.Ref> released;
        try {
            released = r.attachments().garbageCollect(request.getNetworkName(), valid);
        } catch (AttachmentException e) {
            throw status(e);
        }
        if (!released.isEmpty()) {
            log.info("Garbage collection released {} attachment(s)", released.size());
        }
        GarbageCollectResponse.Builder b = GarbageCollectResponse.newBuilder();
        for (Attachments.Ref ref : released) {
            b.addReleased(AttachmentRef.newBuilder().setContainerId(ref.containerId()).setIfname(ref.ifname()));
        }
        return b.build();
    }

    StatusResponse status(StatusRequest request) {
        Ready r = ready;
        if (r == null) {
            return StatusResponse.newBuilder().setReady(false).setMessage("node-manager is " + phase).build();
        }
        boolean up = r.wg0().isUp();
        StatusResponse.Builder b = StatusResponse.newBuilder()
                .setReady(up)
                .setNodeName(r.nodeName())
                .setSubnetIpv4(r.subnetV4().toString())
                .setPublicKey(r.wg0().publicKey().toBase64())
                .setEndpoint(r.endpoint())
                .setInterfaceName(r.wg0().name())
                .setMtu(r.wg0().mtu())
                .setAttachments(r.attachments().count());
        if (!up) {
            b.setMessage(r.wg0().name() + " is down");
        }
        if (r.subnetV6() != null) {
            b.setSubnetIpv6(r.subnetV6().toString());
        }
        return b.build();
    }

    AllocateAddressResponse allocateAddress(AllocateAddressRequest request) throws StatusException {
        Ready r = requireReady();
        String name = clientName(request.getClientName());
        List<String> addresses;
        try {
            addresses = r.attachments().allocateClientAddress(name);
        } catch (AttachmentException e) {
            throw status(e);
        }
        try {
            r.clients().allocated(name, addresses);
        } catch (IOException e) {
            throw Status.INTERNAL.withDescription("could not record client " + name + ": " + e.getMessage())
                    .asException();
        }
        return AllocateAddressResponse.newBuilder().addAllAddresses(addresses).build();
    }

    RegisterPeerResponse registerPeer(RegisterPeerRequest request) throws StatusException {
        Ready r = requireReady();
        String name = clientName(request.getClientName());
        Key key;
        try {
            key = Key.fromBase64(request.getPublicKey());
        } catch (IllegalArgumentException e) {
            throw Status.INVALID_ARGUMENT.withDescription("public_key: " + e.getMessage()).asException();
        }
        Clients.Client client;
        try {
            client = r.clients().register(name, key);
        } catch (IllegalStateException e) {
            throw Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asException();
        } catch (IllegalArgumentException e) {
            throw Status.ALREADY_EXISTS.withDescription(e.getMessage()).asException();
        } catch (IOException e) {
            throw Status.INTERNAL.withDescription("could not record client " + name + ": " + e.getMessage())
                    .asException();
        }
        return RegisterPeerResponse.newBuilder()
                .setPublicKey(r.wg0().publicKey().toBase64())
                .setEndpoint(r.endpoint())
                .addAllAllowedIps(r.cluster().stream().map(Prefix::toString).toList())
                .addAllAddresses(client.addresses())
                .build();
    }

    ListPeersResponse listPeers(ListPeersRequest request) throws StatusException {
        return ListPeersResponse.newBuilder().addAllPeers(peers(requireReady())).build();
    }

    /** Every peer of wg0, with the counters of wg0's side of each. */
    List<PeerInfo> peers() {
        Ready r = ready;
        return r == null ? List.of() : peers(r);
    }

    private static List<PeerInfo> peers(Ready r) {
        List<PeerInfo> out = new ArrayList<>();
        for (PeerSync.NodePeer n : r.peers().nodes()) {
            PeerInfo.Builder b = PeerInfo.newBuilder().setKind(PeerInfo.Kind.NODE).setName(n.name())
                    .setPublicKey(n.publicKey().toBase64())
                    .addAllAllowedIps(n.prefixes().stream().map(Prefix::toString).toList());
            if (n.endpoint() != null) {
                b.setEndpoint(n.endpoint().toString());
            }
            out.add(withCounters(r, b));
        }
        for (Attachments.ContainerPeer c : r.attachments().peers()) {
            out.add(withCounters(r, peerInfo(c)));
        }
        for (Clients.Client c : r.clients().all()) {
            if (c.publicKey() != null) {
                out.add(withCounters(r, PeerInfo.newBuilder().setKind(PeerInfo.Kind.CLIENT).setName(c.name())
                        .setPublicKey(c.publicKey().toBase64()).addAllAllowedIps(c.addresses())));
            }
        }
        return out;
    }

    /** Kind CONTAINER, named by container id. */
    static PeerInfo.Builder peerInfo(Attachments.ContainerPeer c) {
        PeerInfo.Builder b = PeerInfo.newBuilder().setKind(PeerInfo.Kind.CONTAINER).setName(c.containerId())
                .setPublicKey(c.publicKey().toBase64())
                .setLatestHandshakeUnix(TimeUnit.NANOSECONDS.toSeconds(c.lastHandshakeEpochNanos()))
                .setRxBytes(c.rxBytes()).setTxBytes(c.txBytes());
        c.endpoint().ifPresent(e -> b.setEndpoint(e.toString()));
        c.allowedIps().forEach(prefix -> b.addAllowedIps(prefix.toString()));
        return b;
    }

    private static PeerInfo withCounters(Ready r, PeerInfo.Builder b) {
        Peer peer;
        try {
            peer = r.wg0().device().peer(Key.fromBase64(b.getPublicKey()));
        } catch (IllegalArgumentException e) {
            peer = null;
        }
        if (peer != null) {
            b.setLatestHandshakeUnix(TimeUnit.NANOSECONDS.toSeconds(peer.lastHandshakeEpochNanos()))
                    .setRxBytes(peer.rxBytes())
                    .setTxBytes(peer.txBytes());
            if (b.getEndpoint().isEmpty() && peer.endpoint() != null) {
                b.setEndpoint(peer.endpoint().toString());
            }
        }
        return b.build();
    }

    RotateKeyResponse rotateKey(RotateKeyRequest request) throws StatusException {
        Ready r = requireReady();
        String id = request.getContainerId();
        Attachments.KeyChange change;
        try {
            if (id.isEmpty()) {
                if (!request.getIfname().isEmpty()) {
                    throw Status.INVALID_ARGUMENT.withDescription("ifname: only with container_id").asException();
                }
                change = r.rotation().rotate();
            } else {
                change = r.attachments().rotateKey(id, request.getIfname().isEmpty() ? "eth0" : request.getIfname());
            }
        } catch (NoSuchElementException e) {
            throw Status.NOT_FOUND.withDescription(e.getMessage()).asException();
        } catch (StatusRuntimeException e) {
            throw Status.UNAVAILABLE.withDescription("the cluster-manager did not record the new key ("
                    + e.getStatus().getCode() + ": " + e.getStatus().getDescription() + "): the old key stays in use")
                    .asException();
        } catch (IOException e) {
            throw Status.INTERNAL.withDescription("rotating the key: " + e.getMessage()).asException();
        }
        return RotateKeyResponse.newBuilder().setPublicKey(change.next().toBase64())
                .setPreviousPublicKey(change.previous().toBase64()).build();
    }

    private static String clientName(String name) throws StatusException {
        try {
            return Clients.checkName(name);
        } catch (IllegalArgumentException e) {
            throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException();
        }
    }
}
