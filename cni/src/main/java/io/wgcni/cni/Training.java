package io.wgcni.cni;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
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
        Class.forName("io.wgcni.cni.Main"); // the entry point of real calls belongs in the cache too
        System.getenv().size(); // and the environment's classes
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

    /** Answers well on even connections and with an error on odd ones, whatever the request. */
    private static void serve(ServerSocketChannel server) {
        for (long n = 0; !Thread.currentThread().isInterrupted(); n++) {
            try (SocketChannel channel = server.accept()) {
                ByteBuffer header = ByteBuffer.allocate(4);
                while (header.hasRemaining() && channel.read(header) >= 0) {
                    // reading the length
                }
                ByteBuffer body = ByteBuffer.allocate(header.getInt(0));
                while (body.hasRemaining() && channel.read(body) >= 0) {
                    // reading the request
                }
                // The request's first byte is the tag of CniRequest's oneof member, answered by the same number.
                byte[] answer = n % 2 == 1 ? error() : answer(body.get(0) >>> 3);
                channel.write(ByteBuffer.allocate(4 + answer.length).putInt(answer.length).put(answer).flip());
            } catch (IOException e) {
                return;
            }
        }
    }

    private static byte[] error() {
        return new NodeMessages.Writer().message(15, new NodeMessages.Writer().varint(1, 9)
                .string(2, "no handshake with the node yet")).toByteArray();
    }

    private static byte[] answer(int call) {
        NodeMessages.Writer result = new NodeMessages.Writer();
        switch (call) {
            case 1 -> result.string(1, "eth0").string(2, "/proc/1/ns/net")
                    .element(3, "10.100.0.2/24").element(4, "10.100.0.1")
                    .element(3, "fd00:100::2/64").element(4, "")
                    .message(5, new NodeMessages.Writer().string(1, "0.0.0.0/0").string(2, "10.100.0.1"))
                    .message(5, new NodeMessages.Writer().string(1, "::/0"))
                    .varint(6, 1420).string(7, "x");
            case 4 -> result.message(1, new NodeMessages.Writer().string(1, "c2").string(2, "eth0"));
            case 5 -> result.varint(1, 1).string(3, "n");
            default -> { }
        }
        return new NodeMessages.Writer().message(call, result).toByteArray();
    }
}
