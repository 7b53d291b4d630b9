package io.wgcni.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.AttachmentRef;
import io.wgcni.api.node.v1.CheckRequest;
import io.wgcni.api.node.v1.CheckResponse;
import io.wgcni.api.node.v1.CniError;
import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import io.wgcni.api.node.v1.DetachRequest;
import io.wgcni.api.node.v1.DetachResponse;
import io.wgcni.api.node.v1.GarbageCollectRequest;
import io.wgcni.api.node.v1.GarbageCollectResponse;
import io.wgcni.api.node.v1.Route;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.api.node.v1.StatusResponse;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The hand-written codec against the classes protoc generates from node.proto, both ways. */
class NodeMessagesTest {

    @Test
    void attachRequestParsesAsTheGeneratedMessage() throws Exception {
        Map<String, String> args = new LinkedHashMap<>();
        args.put("IgnoreUnknown", "1");
        args.put("K8S_POD_NAME", "p\u00e9");
        args.put("EMPTY", "");
        byte[] bytes = NodeMessages.request(new NodeMessages.Attach("c1", "/var/run/netns/x", "eth0", "wgcni", 1380,
                true, args));
        assertEquals(CniRequest.newBuilder().setAttach(AttachRequest.newBuilder()
                .setContainerId("c1").setNetns("/var/run/netns/x").setIfname("eth0").setNetworkName("wgcni")
                .setMtu(1380).setReplaceDefaultRoute(true).putAllArgs(args)).build(), CniRequest.parseFrom(bytes));

        byte[] defaults = NodeMessages.request(new NodeMessages.Attach("c1", "", "eth0", "n", 0, false, Map.of()));
        assertEquals(CniRequest.newBuilder().setAttach(AttachRequest.newBuilder()
                .setContainerId("c1").setIfname("eth0").setNetworkName("n")).build(), CniRequest.parseFrom(defaults));
    }

    @Test
    void otherRequestsParseAsTheGeneratedMessages() throws Exception {
        assertEquals(CniRequest.newBuilder().setDetach(DetachRequest.newBuilder().setContainerId("c1")
                .setIfname("eth0")).build(),
                CniRequest.parseFrom(NodeMessages.request(new NodeMessages.Detach("c1", "", "eth0"))));
        assertEquals(CniRequest.newBuilder().setCheck(CheckRequest.newBuilder().setContainerId("c1")
                .setNetns("/n").setIfname("eth0").addExpectedAddresses("10.0.0.2/24")
                .addExpectedAddresses("fd00::2/64").setNetworkName("net")).build(),
                CniRequest.parseFrom(NodeMessages.request(new NodeMessages.Check("c1", "/n", "eth0",
                        List.of("10.0.0.2/24", "fd00::2/64"), "net"))));
        assertEquals(CniRequest.newBuilder().setGarbageCollect(GarbageCollectRequest.newBuilder()
                .setNetworkName("n")
                .addValid(AttachmentRef.newBuilder().setContainerId("a").setIfname("eth0"))
                .addValid(AttachmentRef.newBuilder().setContainerId("b").setIfname("net1"))).build(),
                CniRequest.parseFrom(NodeMessages.request(new NodeMessages.GarbageCollect("n",
                        List.of(new NodeMessages.Ref("a", "eth0"), new NodeMessages.Ref("b", "net1"))))));
        assertEquals(CniRequest.newBuilder().setGarbageCollect(GarbageCollectRequest.newBuilder()
                .setNetworkName("n")).build(),
                CniRequest.parseFrom(NodeMessages.request(new NodeMessages.GarbageCollect("n", List.of()))));
        CniRequest status = CniRequest.parseFrom(NodeMessages.statusRequest());
        assertEquals(CniRequest.CallCase.STATUS, status.getCallCase());
        assertEquals(StatusRequest.getDefaultInstance(), status.getStatus());
    }

    @Test
    void readsEveryGeneratedResponse() throws Exception {
        CniResponse attach = CniResponse.newBuilder().setAttach(AttachResponse.newBuilder()
                .setIfname("eth0").setSandbox("/var/run/netns/x")
                .addAddresses("10.100.3.7/24").addGateways("10.100.3.1")
                .addAddresses("fd00:100:0:3::7/64").addGateways("")
                .addRoutes(Route.newBuilder().setDst("0.0.0.0/0").setGw("10.100.3.1"))
                .addRoutes(Route.newBuilder().setDst("::/0"))
                .setMtu(1420).setPublicKey("k")).build();
        assertEquals(new NodeMessages.Attached("eth0", "/var/run/netns/x",
                List.of("10.100.3.7/24", "fd00:100:0:3::7/64"), List.of("10.100.3.1", ""),
                List.of(new NodeMessages.Route("0.0.0.0/0", "10.100.3.1"), new NodeMessages.Route("::/0", "")),
                1420, "k"), NodeMessages.response(attach.toByteArray()));

        assertEquals(new NodeMessages.Detached(), NodeMessages.response(CniResponse.newBuilder()
                .setDetach(DetachResponse.getDefaultInstance()).build().toByteArray()));
        assertEquals(new NodeMessages.Checked(), NodeMessages.response(CniResponse.newBuilder()
                .setCheck(CheckResponse.getDefaultInstance()).build().toByteArray()));
        assertEquals(new NodeMessages.Collected(List.of(new NodeMessages.Ref("a", "eth0"))),
                NodeMessages.response(CniResponse.newBuilder().setGarbageCollect(GarbageCollectResponse.newBuilder()
                        .addReleased(AttachmentRef.newBuilder().setContainerId("a").setIfname("eth0")))
                        .build().toByteArray()));
        assertEquals(new NodeMessages.Status(true, "", "node-a"), NodeMessages.response(CniResponse.newBuilder()
                .setStatus(StatusResponse.newBuilder().setReady(true).setNodeName("node-a").setSubnetIpv4("10.1.0.0/24")
                        .setPublicKey("k").setEndpoint("10.0.0.1:51820").setInterfaceName("wg0").setMtu(1420)
                        .setAttachments(3))
                .build().toByteArray()));
        assertEquals(new NodeMessages.Status(false, "no subnet yet", ""), NodeMessages.response(CniResponse
                .newBuilder().setStatus(StatusResponse.newBuilder().setMessage("no subnet yet")).build()
                .toByteArray()));
        assertEquals(new NodeMessages.Failed(6, "eth0 exists in /n"), NodeMessages.response(CniResponse.newBuilder()
                .setError(CniError.newBuilder().setCode(6).setMessage("eth0 exists in /n")).build().toByteArray()));
        assertEquals(new NodeMessages.Failed(-1, ""), NodeMessages.response(CniResponse.newBuilder()
                .setError(CniError.newBuilder().setCode(-1)).build().toByteArray()));
    }

    @Test
    void skipsFieldsItDoesNotKnow() throws Exception {
        // A newer node-manager: unknown fields of every wire type inside the result and beside it.
        byte[] known = CniResponse.newBuilder().setDetach(DetachResponse.getDefaultInstance()).build().toByteArray();
        byte[] unknown = new NodeMessages.Writer().varint(20, 300).string(21, "x").toByteArray();
        byte[] fixed = {12 << 3 | 1, 1, 2, 3, 4, 5, 6, 7, 8, 13 << 3 | 5, 1, 2, 3, 4};
        byte[] all = new byte[known.length + unknown.length + fixed.length];
        System.arraycopy(unknown, 0, all, 0, unknown.length);
        System.arraycopy(fixed, 0, all, unknown.length, fixed.length);
        System.arraycopy(known, 0, all, unknown.length + fixed.length, known.length);
        assertEquals(new NodeMessages.Detached(), NodeMessages.response(all));
    }

    @Test
    void rejectsMalformedAnswers() {
        assertThrows(NodeMessages.MalformedException.class, () -> NodeMessages.response(new byte[0]));
        assertThrows(NodeMessages.MalformedException.class, () -> NodeMessages.response(new byte[] {10, 5, 1}));
        assertThrows(NodeMessages.MalformedException.class, () -> NodeMessages.response(new byte[] {(byte) 0x80}));
        assertThrows(NodeMessages.MalformedException.class, () -> NodeMessages.response(new byte[] {0, 0}));
        assertThrows(NodeMessages.MalformedException.class, () -> NodeMessages.response(new byte[] {11}));
    }

    @Test
    void aStringThatIsNotUtf8IsMalformedAsProtobufHasIt() {
        // CniResponse{garbage_collect{released{container_id="a", ifname=0xff 0xfe}}}, found by NodeResponsesFuzzTest.
        byte[] bad = {0x22, 0x09, 0x0a, 0x07, 0x0a, 0x01, 'a', 0x12, 0x02, (byte) 0xff, (byte) 0xfe};
        org.junit.jupiter.api.Assertions.assertThrows(com.google.protobuf.InvalidProtocolBufferException.class,
                () -> io.wgcni.api.node.v1.CniResponse.parseFrom(bad));
        org.junit.jupiter.api.Assertions.assertThrows(NodeMessages.MalformedException.class,
                () -> NodeMessages.response(bad));
    }
}
