package io.wgcni.cni;

import io.wgcni.api.node.Frames;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.AttachmentRef;
import io.wgcni.api.node.v1.CheckResponse;
import io.wgcni.api.node.v1.CniError;
import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import io.wgcni.api.node.v1.DetachResponse;
import io.wgcni.api.node.v1.GarbageCollectResponse;
import io.wgcni.api.node.v1.Route;
import io.wgcni.api.node.v1.StatusResponse;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The training run for the JDK's AOT cache (install.sh): every command, in every version, through the same
 * code as a real call, against a stand-in for node-manager's socket that answers each request kind once well
 * and once with an error. Its only purpose is to load and link the classes a real call uses.
 */
public final class Training {
    private Training() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("wgcni-cni-training");
        Path socket = dir.resolve("cni.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread answering = Thread.ofPlatform().daemon().start(() -> serve(server));
            PrintStream sink = new PrintStream(OutputStream.nullOutputStream(), false, StandardCharsets.UTF_8);
            for (String version : Result.SUPPORTED_VERSIONS) {
                for (int round = 0; round < 2; round++) {
                    train(socket.toString(), version, sink);
                }
            }
            train(dir.resolve("missing.sock").toString(), Result.V110, sink);
            answering.interrupt();
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
    }

    private static void train(String socket, String version, PrintStream sink) {
        String conf = "{\"cniVersion\":\"" + version + "\",\"name\":\"train\",\"type\":\"wireguard\",\"socket\":\""
                + socket + "\",\"dns\":{\"nameservers\":[\"10.0.0.1\"]},"
                + "\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\",\"ifname\":\"eth0\"}]}";
        String prev = "{\"cniVersion\":\"" + version + "\",\"name\":\"train\",\"type\":\"wireguard\",\"socket\":\""
                + socket + "\",\"prevResult\":{\"cniVersion\":\"" + version + "\",\"interfaces\":[{\"name\":\"eth0\","
                + "\"mac\":\"0a:58:0a:00:00:02\",\"sandbox\":\"/proc/1/ns/net\"}],\"ips\":[{\"address\":"
                + "\"10.0.0.2/24\",\"gateway\":\"10.0.0.1\",\"interface\":0}],\"routes\":[{\"dst\":\"0.0.0.0/0\","
                + "\"gw\":\"10.0.0.1\"}],\"dns\":{}}}";
        for (String command : new String[] {"VERSION", "ADD", "CHECK", "DEL", "GC", "STATUS"}) {
            for (String stdin : new String[] {conf, prev, "{\"cniVersion\":", "[\"\\u00e9\\ud83d\\ude00\", 1.5e3]"}) {
                Map<String, String> env = new HashMap<>();
                env.put("CNI_COMMAND", command);
                env.put("CNI_CONTAINERID", "c1");
                env.put("CNI_NETNS", "/proc/1/ns/net");
                env.put("CNI_IFNAME", "eth0");
                env.put("CNI_PATH", "/opt/cni/bin");
                env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=p");
                Plugin.run(env, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), sink, sink);
            }
        }
    }

    /** Answers well on even connections and with an error on odd ones. */
    private static void serve(ServerSocketChannel server) {
        for (long n = 0; !Thread.currentThread().isInterrupted(); n++) {
            try (SocketChannel channel = server.accept()) {
                CniRequest request = Frames.read(channel, CniRequest.parser());
                Frames.write(channel, n % 2 == 1 ? error() : answer(request));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static CniResponse error() {
        return CniResponse.newBuilder()
                .setError(CniError.newBuilder().setCode(9).setMessage("no handshake with the node yet"))
                .build();
    }

    private static CniResponse answer(CniRequest request) {
        CniResponse.Builder response = CniResponse.newBuilder();
        switch (request.getCallCase()) {
            case ATTACH -> response.setAttach(AttachResponse.newBuilder()
                    .setIfname(request.getAttach().getIfname())
                    .setSandbox(request.getAttach().getNetns())
                    .addAddresses("10.100.0.2/24").addGateways("10.100.0.1")
                    .addAddresses("fd00:100::2/64").addGateways("")
                    .addRoutes(Route.newBuilder().setDst("0.0.0.0/0").setGw("10.100.0.1"))
                    .addRoutes(Route.newBuilder().setDst("::/0"))
                    .setMtu(1420)
                    .setPublicKey("x"));
            case DETACH -> response.setDetach(DetachResponse.getDefaultInstance());
            case CHECK -> response.setCheck(CheckResponse.getDefaultInstance());
            case GARBAGE_COLLECT -> response.setGarbageCollect(GarbageCollectResponse.newBuilder()
                    .addReleased(AttachmentRef.newBuilder().setContainerId("c2").setIfname("eth0")));
            case STATUS -> response.setStatus(StatusResponse.newBuilder().setReady(true).setNodeName("n"));
            default -> response.setError(CniError.newBuilder().setCode(3).setMessage("empty request"));
        }
        return response.build();
    }
}
