package io.wgcni.node;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
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
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.RegisterPeerRequest;
import io.wgcni.api.node.v1.RegisterPeerResponse;
import io.wgcni.api.node.v1.RotateKeyRequest;
import io.wgcni.api.node.v1.RotateKeyResponse;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.api.node.v1.StatusResponse;
import io.wgcni.node.attach.Attachments;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node API (service Node of node.proto), whichever transport carries it: the gRPC socket and the CNI socket
 * both call these methods. Until the node is ready (joined, wg0 up, attachments loaded) every call but Status is
 * refused with UNAVAILABLE and the phase the node is in.
 */
final class NodeApi {
    private static final Logger log = LoggerFactory.getLogger(NodeApi.class);

    /** Everything a ready node has. {@code subnetV6} is null in an IPv4-only cluster. */
    record Ready(String nodeName, Prefix subnetV4, Prefix subnetV6, List<Prefix> cluster, String endpoint,
            NodeInterface wg0, Attachments attachments, PeerSync peers, Clients clients, NodeKeyRotation rotation) {}

    /** Rotates the node's own key ({@link NodeDaemon#rotateKey}); a failure of the cluster-manager's comes as its status. */
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

    AttachResponse attach(AttachRequest request) throws StatusException {
        Ready r = requireReady();
        long start = System.nanoTime();
        AttachResponse response = r.attachments().attach(request);
        metrics.attached(System.nanoTime() - start);
        log.info("Attached {} {} in {}: {} ({} ms)", request.getContainerId(), request.getIfname(),
                request.getNetns(), response.getAddressesList(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        return response;
    }

    DetachResponse detach(DetachRequest request) throws StatusException {
        requireReady().attachments().detach(request);
        log.info("Detached {} {}", request.getContainerId(), request.getIfname());
        return DetachResponse.getDefaultInstance();
    }

    CheckResponse check(CheckRequest request) throws StatusException {
        requireReady().attachments().check(request);
        return CheckResponse.getDefaultInstance();
    }

    GarbageCollectResponse garbageCollect(GarbageCollectRequest request) throws StatusException {
        var released = requireReady().attachments().garbageCollect(request);
        if (!released.isEmpty()) {
            log.info("Garbage collection released {} attachment(s)", released.size());
        }
        return GarbageCollectResponse.newBuilder().addAllReleased(released).build();
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
        List<String> addresses = r.attachments().allocateClientAddress(name);
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
        for (PeerInfo container : r.attachments().peers()) {
            out.add(withCounters(r, container.toBuilder()));
        }
        for (Clients.Client c : r.clients().all()) {
            if (c.publicKey() != null) {
                out.add(withCounters(r, PeerInfo.newBuilder().setKind(PeerInfo.Kind.CLIENT).setName(c.name())
                        .setPublicKey(c.publicKey().toBase64()).addAllAllowedIps(c.addresses())));
            }
        }
        return out;
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
