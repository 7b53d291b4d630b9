package io.wgcni.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.grpc.Status;
import io.grpc.StatusException;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.Route;
import io.wgcni.node.attach.AttachmentException;
import io.wgcni.node.attach.AttachmentException.Kind;
import io.wgcni.node.attach.Attachments;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.InetAddresses;
import java.io.IOException;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The edge between node.proto and the attachments: their errors as statuses, their results as replies. */
class NodeApiTest {

    /** The codes the node's API has always answered, which the CNI plugin and operators' tooling go by. */
    private static final Map<Kind, Status.Code> ANSWERED = new EnumMap<>(Map.of(
            Kind.INVALID, Status.Code.INVALID_ARGUMENT,
            Kind.EXISTS, Status.Code.ALREADY_EXISTS,
            Kind.EXHAUSTED, Status.Code.RESOURCE_EXHAUSTED,
            Kind.NOT_FOUND, Status.Code.NOT_FOUND,
            Kind.WRONG_STATE, Status.Code.FAILED_PRECONDITION,
            Kind.UNAVAILABLE, Status.Code.UNAVAILABLE,
            Kind.INTERNAL, Status.Code.INTERNAL));

    @Test
    void everyKindOfAttachmentErrorHasItsOwnStatus() {
        assertEquals(EnumSet.allOf(Kind.class), ANSWERED.keySet(), "a kind without a status decided here");
        Set<Status.Code> codes = new HashSet<>();
        for (Kind kind : Kind.values()) {
            Status.Code code = NodeApi.code(kind);
            assertEquals(ANSWERED.get(kind), code, kind.name());
            assertNotEquals(Status.Code.OK, code, kind.name());
            codes.add(code);
        }
        assertEquals(Kind.values().length, codes.size(), "two kinds answer the same status");
    }

    @Test
    void theStatusCarriesTheMessageWordForWord() {
        IOException cause = new IOException("disk full");
        StatusException s = NodeApi.status(new AttachmentException(Kind.INTERNAL, "attaching eth0 in /x: disk full",
                cause));
        assertEquals(Status.Code.INTERNAL, s.getStatus().getCode());
        assertEquals("attaching eth0 in /x: disk full", s.getStatus().getDescription());
        assertSame(cause, s.getStatus().getCause());
        assertEquals("INVALID_ARGUMENT: ifname: '' is not a valid interface name", NodeApi.status(
                new AttachmentException(Kind.INVALID, "ifname: '' is not a valid interface name")).getMessage());
        // An I/O error without a message has none over the wire either, as before.
        assertNull(NodeApi.status(new AttachmentException(Kind.INTERNAL, null, new IOException())).getStatus()
                .getDescription());
    }

    @Test
    void anAttachAnswersADefaultRouteThroughEachGateway() {
        Key key = X25519.publicKey(X25519.generatePrivateKey());
        AttachResponse r = NodeApi.response(new Attachments.Attached("eth0", "/var/run/netns/a", 1400, key,
                List.of("10.100.3.2/24", "fd00:100:0:3::2/64"),
                List.of(InetAddresses.parse("10.100.3.1"), InetAddresses.parse("fd00:100:0:3::1"))));
        assertEquals(AttachResponse.newBuilder().setIfname("eth0").setSandbox("/var/run/netns/a").setMtu(1400)
                .setPublicKey(key.toBase64()).addAddresses("10.100.3.2/24").addAddresses("fd00:100:0:3::2/64")
                .addGateways("10.100.3.1").addGateways("fd00:100:0:3::1")
                .addRoutes(Route.newBuilder().setDst("0.0.0.0/0").setGw("10.100.3.1"))
                .addRoutes(Route.newBuilder().setDst("::/0").setGw("fd00:100:0:3::1"))
                .build(), r);
        AttachResponse v4 = NodeApi.response(new Attachments.Attached("eth0", "/x", 1400, key,
                List.of("10.100.3.2/24"), List.of(InetAddresses.parse("10.100.3.1"))));
        assertEquals(List.of(Route.newBuilder().setDst("0.0.0.0/0").setGw("10.100.3.1").build()),
                v4.getRoutesList());
    }

    @Test
    void aContainersPeerIsListedByItsContainerId() {
        Key key = X25519.publicKey(X25519.generatePrivateKey());
        var peer = new Attachments.ContainerPeer("ctr-a", key, Optional.of(Endpoint.parse("127.0.0.1:40000")),
                List.of(Prefix.parse("10.100.3.2/32"), Prefix.parse("fd00:100:0:3::2/128")),
                1_700_000_000_500_000_000L, 10, 20);
        assertEquals(PeerInfo.newBuilder().setKind(PeerInfo.Kind.CONTAINER).setName("ctr-a")
                .setPublicKey(key.toBase64()).setEndpoint("127.0.0.1:40000")
                .addAllowedIps("10.100.3.2/32").addAllowedIps("fd00:100:0:3::2/128")
                .setLatestHandshakeUnix(1_700_000_000L).setRxBytes(10).setTxBytes(20).build(),
                NodeApi.peerInfo(peer).build());
        PeerInfo quiet = NodeApi.peerInfo(new Attachments.ContainerPeer("ctr-b", key, Optional.empty(), List.of(),
                0, 0, 0)).build();
        assertEquals("", quiet.getEndpoint());
        assertEquals(0, quiet.getLatestHandshakeUnix());
    }
}
