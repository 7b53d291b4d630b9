package io.wgcni.node;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.wgcni.api.Environment;
import io.wgcni.api.node.v1.AllocateAddressRequest;
import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.DetachRequest;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.NodeGrpc;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.RegisterPeerRequest;
import io.wgcni.api.node.v1.RegisterPeerResponse;
import io.wgcni.api.node.v1.RotateKeyRequest;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.api.node.v1.StatusResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code node-manager}: the daemon ({@code run}) and a small client of its API for operators and tests. */
@Command(name = "node-manager", mixinStandardHelpOptions = true, versionProvider = NodeManager.Version.class,
        description = "Runs a wgcni node: the node's userspace WireGuard, the containers' tunnels, the CNI socket.",
        subcommands = {NodeManager.Run.class, NodeManager.StatusCommand.class, NodeManager.Peers.class,
            NodeManager.Attach.class, NodeManager.Detach.class, NodeManager.RotateKey.class,
            NodeManager.Client.class})
public final class NodeManager {
    static final String DEFAULT_SOCKET = "/run/wgcni/node.sock";

    public static void main(String[] args) {
        int code = commandLine(System.getenv()).execute(args);
        if (code >= 0) {
            System.exit(code);
        }
    }

    /** Every option can also come from the environment ({@link Environment}), as cluster-manager's. */
    static CommandLine commandLine(Map<String, String> env) {
        CommandLine cli = new CommandLine(new NodeManager());
        cli.setDefaultValueProvider(option -> option instanceof CommandLine.Model.OptionSpec o
                ? Environment.value(env, o.longestName()) : null);
        return cli;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = NodeManager.class.getPackage().getImplementationVersion();
            return new String[] {"node-manager " + (v == null ? "dev" : v)};
        }
    }

    @Command(name = "run", description = "Join the cluster and run the node until SIGTERM or SIGINT.")
    static final class Run implements Callable<Integer> {
        @Option(names = "--cluster", required = true,
                description = "cluster-manager address, host:port, or the replicas' host:port,host:port,..."
                        + " (a host name may have several addresses); calls move to another replica when one goes"
                        + " away (WGCNI_CLUSTER)")
        String cluster;

        @Option(names = "--join-token",
                description = "join token, needed on the first run only (WGCNI_JOIN_TOKEN)")
        String joinToken;

        @Option(names = "--join-token-file",
                description = "file holding the join token (WGCNI_JOIN_TOKEN_FILE)")
        Path joinTokenFile;

        @Option(names = "--node-name",
                description = "this node's name (WGCNI_NODE_NAME; default: the host name)")
        String nodeName;

        @Option(names = "--data-dir", defaultValue = "/var/lib/wgcni/node-manager",
                description = "key, credentials and state (WGCNI_DATA_DIR; default: ${DEFAULT-VALUE})")
        Path dataDir;

        @Option(names = "--interface", defaultValue = "wg0",
                description = "the node's WireGuard interface (WGCNI_INTERFACE; default: ${DEFAULT-VALUE})")
        String interfaceName;

        @Option(names = "--listen-port", defaultValue = "51820",
                description = "its UDP port (WGCNI_LISTEN_PORT; default: ${DEFAULT-VALUE})")
        int listenPort;

        @Option(names = "--endpoint",
                description = "host:port other nodes reach this one at (WGCNI_ENDPOINT; default: the address of the"
                        + " default route's interface and the listen port)")
        String endpoint;

        @Option(names = "--mtu", defaultValue = "0",
                description = "the interface's MTU (WGCNI_MTU; default: the underlay's minus 80)")
        int mtu;

        @Option(names = "--socket", defaultValue = DEFAULT_SOCKET,
                description = "gRPC node API socket (WGCNI_SOCKET; default: ${DEFAULT-VALUE})")
        Path socket;

        @Option(names = "--cni-socket", defaultValue = "/run/wgcni/cni.sock",
                description = "the CNI plugin's socket (WGCNI_CNI_SOCKET; default: ${DEFAULT-VALUE})")
        Path cniSocket;

        @Option(names = "--metrics-listen", defaultValue = "127.0.0.1:9711",
                description = "host:port for Prometheus /metrics, or off (WGCNI_METRICS_LISTEN; default:"
                        + " ${DEFAULT-VALUE})")
        String metricsListen;

        @Option(names = "--keep-tunnels-on-exit", defaultValue = "false",
                description = "leave the containers' interfaces in place on exit, for a restart"
                        + " (WGCNI_KEEP_TUNNELS_ON_EXIT)")
        boolean keepTunnelsOnExit;

        @Option(names = "--seal-container-hop", defaultValue = "false",
                description = "seal data between wg0 and the containers' devices, which share this process and its"
                        + " keys (for comparison; costs a cipher pass each way) (WGCNI_SEAL_CONTAINER_HOP)")
        boolean sealContainerHop;

        @Option(names = "--kernel-forwarding", defaultValue = "false",
                description = "send packets between wg0's peers (containers, nodes) through the kernel, for"
                        + " netfilter FORWARD rules, instead of straight inside wg0 (WGCNI_KERNEL_FORWARDING)")
        boolean kernelForwarding;

        @Override
        public Integer call() throws IOException {
            String token = joinToken;
            if (token == null && joinTokenFile != null) {
                token = Files.readString(joinTokenFile, StandardCharsets.UTF_8).strip();
            }
            String name = nodeName != null ? nodeName : InetAddress.getLocalHost().getHostName();
            if (!name.matches("[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?")) {
                throw new CommandLine.ParameterException(new CommandLine(this),
                        "--node-name must be a DNS label (lower-case letters, digits, '-', '.'), got \"" + name + "\"");
            }
            if (listenPort < 1 || listenPort > 65535) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--listen-port must be 1..65535");
            }
            if (mtu != 0 && (mtu < 1280 || mtu > 65535)) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--mtu must be 1280..65535");
            }
            if (endpoint != null) {
                try {
                    io.wgcni.wg.io.Endpoint.parse(endpoint);
                } catch (IllegalArgumentException e) {
                    throw new CommandLine.ParameterException(new CommandLine(this), "--endpoint: " + e.getMessage());
                }
            }
            NodeConfig config = new NodeConfig(cluster, token, name, dataDir, interfaceName, listenPort, endpoint,
                    mtu, socket, cniSocket, metricsAddress(), keepTunnelsOnExit,
                    new NodeInterface.DataPath(sealContainerHop, kernelForwarding));
            return new NodeDaemon(config).run();
        }

        private InetSocketAddress metricsAddress() {
            if (metricsListen.equals("off")) {
                return null;
            }
            try {
                var e = io.wgcni.wg.io.Endpoint.parse(metricsListen);
                return e.toSocketAddress();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(this),
                        "--metrics-listen must be host:port or off: " + e.getMessage());
            }
        }
    }

    /** Options of the client commands. */
    static class ClientOptions {
        @Option(names = "--socket", defaultValue = DEFAULT_SOCKET,
                description = "node-manager's gRPC socket (default: ${DEFAULT-VALUE})")
        Path socket;

        <T> T call(java.util.function.Function<NodeGrpc.NodeBlockingStub, T> body) {
            EpollEventLoopGroup group = new EpollEventLoopGroup(1);
            ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
            try {
                return body.apply(NodeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS));
            } finally {
                channel.shutdownNow();
                group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            }
        }
    }

    /** Runs a client command, turning a failed call into a message and exit status 1. */
    abstract static class ClientCommand implements Callable<Integer> {
        @CommandLine.Mixin
        ClientOptions options;

        abstract void run(NodeGrpc.NodeBlockingStub node);

        @Override
        public Integer call() {
            try {
                options.call(node -> {
                    run(node);
                    return null;
                });
                return 0;
            } catch (StatusRuntimeException e) {
                if (!Files.exists(options.socket)) {
                    System.err.println("node-manager: no socket at " + options.socket + ": is node-manager running?"
                            + " (--socket names another one)");
                } else {
                    System.err.println("node-manager: " + e.getStatus().getCode() + ": "
                            + e.getStatus().getDescription());
                }
                return 1;
            }
        }
    }

    @Command(name = "status", description = "Show whether the node is ready, and what it is.")
    static final class StatusCommand extends ClientCommand {
        int code;

        @Override
        void run(NodeGrpc.NodeBlockingStub node) {
            StatusResponse s = node.status(StatusRequest.getDefaultInstance());
            System.out.print(s.getReady() ? "ready\n" : "not ready: " + s.getMessage() + "\n");
            if (!s.getNodeName().isEmpty()) {
                System.out.printf("node %s, subnet %s%s, %s %s at %s, MTU %d, %d attachment(s)%n", s.getNodeName(),
                        s.getSubnetIpv4(), s.getSubnetIpv6().isEmpty() ? "" : " " + s.getSubnetIpv6(),
                        s.getInterfaceName(), s.getPublicKey(), s.getEndpoint(), s.getMtu(), s.getAttachments());
            }
            code = s.getReady() ? 0 : 3;
        }

        @Override
        public Integer call() {
            int c = super.call();
            return c != 0 ? c : code;
        }
    }

    @Command(name = "peers", description = "List wg0's peers: nodes, containers, external clients.")
    static final class Peers extends ClientCommand {
        @Override
        void run(NodeGrpc.NodeBlockingStub node) {
            for (PeerInfo p : node.listPeers(ListPeersRequest.getDefaultInstance()).getPeersList()) {
                String handshake = p.getLatestHandshakeUnix() == 0 ? "never"
                        : Instant.ofEpochSecond(p.getLatestHandshakeUnix()).toString();
                System.out.printf("%-9s %-24s %s %s allowed %s handshake %s rx %d tx %d%n",
                        p.getKind().name().toLowerCase(java.util.Locale.ROOT), p.getName(), p.getPublicKey(),
                        p.getEndpoint().isEmpty() ? "-" : p.getEndpoint(), String.join(",", p.getAllowedIpsList()),
                        handshake, p.getRxBytes(), p.getTxBytes());
            }
        }
    }

    @Command(name = "attach", description = "Attach a network namespace (as the CNI plugin's ADD does).")
    static final class Attach extends ClientCommand {
        @Parameters(index = "0", description = "container id")
        String containerId;

        @Parameters(index = "1", description = "network namespace, a name or a path")
        String netns;

        @Option(names = "--ifname", defaultValue = "eth0", description = "interface name (default: ${DEFAULT-VALUE})")
        String ifname;

        @Override
        void run(NodeGrpc.NodeBlockingStub node) {
            String path = netns.indexOf('/') >= 0 ? netns : "/var/run/netns/" + netns;
            AttachResponse r = node.attach(AttachRequest.newBuilder().setContainerId(containerId).setNetns(path)
                    .setIfname(ifname).setNetworkName("wgcni").build());
            System.out.println(String.join(" ", r.getAddressesList()));
        }
    }

    @Command(name = "detach", description = "Detach a container (as the CNI plugin's DEL does).")
    static final class Detach extends ClientCommand {
        @Parameters(index = "0", description = "container id")
        String containerId;

        @Option(names = "--ifname", defaultValue = "eth0", description = "interface name (default: ${DEFAULT-VALUE})")
        String ifname;

        @Override
        void run(NodeGrpc.NodeBlockingStub node) {
            node.detach(DetachRequest.newBuilder().setContainerId(containerId).setIfname(ifname).build());
        }
    }

    @Command(name = "rotate-key", description = "Give the node (or, with --container, one container interface) a"
            + " new WireGuard key; connections carry on. Prints the new public key.")
    static final class RotateKey extends ClientCommand {
        @Option(names = "--container", description = "the container id whose tunnel key to rotate")
        String containerId;

        @Option(names = "--ifname", description = "its interface (default: eth0)")
        String ifname;

        @Override
        void run(NodeGrpc.NodeBlockingStub node) {
            RotateKeyRequest.Builder request = RotateKeyRequest.newBuilder();
            if (containerId != null) {
                request.setContainerId(containerId).setIfname(ifname == null ? "eth0" : ifname);
            } else if (ifname != null) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--ifname needs --container");
            }
            System.out.println(node.rotateKey(request.build()).getPublicKey());
        }
    }

    @Command(name = "client", description = "External clients (wg-quick) that dial into the mesh through this node.",
            subcommands = Client.Add.class)
    static final class Client {
        @Command(name = "add", description = "Give a client an address and register its public key; prints the"
                + " wg-quick configuration without its private key.")
        static final class Add extends ClientCommand {
            @Parameters(index = "0", description = "client name")
            String name;

            @Option(names = "--public-key", required = true, description = "the client's WireGuard public key")
            String publicKey;

            @Override
            void run(NodeGrpc.NodeBlockingStub node) {
                node.allocateAddress(AllocateAddressRequest.newBuilder().setClientName(name).build());
                RegisterPeerResponse r = node.registerPeer(RegisterPeerRequest.newBuilder().setClientName(name)
                        .setPublicKey(publicKey).build());
                System.out.print(String.join("\n",
                        "[Interface]",
                        "PrivateKey = <the client's private key>",
                        "Address = " + String.join(", ", r.getAddressesList()),
                        "",
                        "[Peer]",
                        "PublicKey = " + r.getPublicKey(),
                        "Endpoint = " + r.getEndpoint(),
                        "AllowedIPs = " + String.join(", ", r.getAllowedIpsList()),
                        "PersistentKeepalive = 25",
                        ""));
            }
        }
    }
}
