package io.wgcni.e2e;

import static io.wgcni.cni.PluginProcess.PLUGIN;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.wgcni.cni.Json;
import io.wgcni.cni.Sh;
import io.wgcni.e2e.cri.PodSandboxConfig;
import io.wgcni.e2e.cri.PodSandboxMetadata;
import io.wgcni.e2e.cri.PodSandboxState;
import io.wgcni.e2e.cri.PodSandboxStatusRequest;
import io.wgcni.e2e.cri.PodSandboxStatusResponse;
import io.wgcni.e2e.cri.RemovePodSandboxRequest;
import io.wgcni.e2e.cri.RunPodSandboxRequest;
import io.wgcni.e2e.cri.RuntimeServiceGrpc;
import io.wgcni.e2e.cri.StopPodSandboxRequest;
import io.wgcni.e2e.cri.VersionRequest;
import io.wgcni.node.LocalCluster;
import io.wgcni.wg.Skip;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Debian's containerd 1.6 with its CRI plugin, kept off the host, and kubelet's side of it: a CRI v1 client
 * (generated from src/test/proto/runtime/v1/api.proto). containerd's root, state, socket, configuration, CNI
 * configuration directory ({@link #netDir}) and plugin directory ({@link #pluginDir}) are in a temporary
 * directory. It runs in a mount namespace of its own (/ is private on these machines; /run/netns stays shared, so
 * the pod namespaces CRI makes there are visible to node-manager) in which the test's directories are bound over
 * /var/lib (libcni's result cache, kept across a restart) and /run/containerd (the shims' sockets and runc's
 * state, which containerd 1.6 puts there whatever its configuration says); and, when given, in a network
 * namespace of the test's: the node's, so that portmap's rules land where a node's would. Pods get cgroups under
 * a parent named with the "cn" prefix, removed at the end.
 *
 * <p>No image can be pulled here. The sandbox ("pause") image is built from busybox-static as an OCI archive:
 * one uncompressed layer holding /bin/busybox, a config whose entrypoint is {@code busybox sleep}, a manifest and
 * an index naming it {@value #SANDBOX_IMAGE} (the io.containerd.image.name annotation), imported with
 * {@code ctr -n k8s.io images import}. The CRI plugin kills the sandbox with SIGKILL on StopPodSandbox, so
 * {@code sleep} as PID 1 (which ignores SIGTERM) is enough.
 */
final class Containerd implements AutoCloseable {
    static final String SANDBOX_IMAGE = "wgcni.test/pause:1";
    private static final Path RUN_CONTAINERD = Path.of("/run/containerd");

    final Path dir;
    final Path netDir;
    final Path pluginDir;
    final Path socket;
    final Path log;
    private final String netns;
    private final String cgroup = Sh.unique("pod");
    private final Set<String> sandboxes = new LinkedHashSet<>();
    private final Set<String> podNamespaces = new LinkedHashSet<>();
    private final boolean madeRunContainerd;
    private Process process;
    private EpollEventLoopGroup group;
    private ManagedChannel channel;
    private RuntimeServiceGrpc.RuntimeServiceBlockingStub cri;

    static void assumeInstalled() {
        Skip.unlessRoot("containerd runs pods in namespaces and cgroups of the test's");
        Skip.unlessCommands("containerd runc util-linux", "containerd", "ctr", "containerd-shim-runc-v2", "runc",
                "unshare", "nsenter");
        for (String plugin : List.of("bridge", "host-local", "loopback", "portmap", "bandwidth")) {
            Skip.unlessExists(Path.of("/usr/lib/cni", plugin), Skip.Reason.MISSING_PACKAGE,
                    "/usr/lib/cni/" + plugin + " is missing: apt-get install containernetworking-plugins");
        }
        Skip.unless(Files.isExecutable(Path.of("/bin/busybox")), Skip.Reason.MISSING_PACKAGE,
                "busybox-static is not installed: apt-get install busybox-static");
    }

    /**
     * @param netns the network namespace containerd runs in (and so every CNI plugin's host side), or null for
     *     the host's
     */
    static Containerd start(Path dir, String netns, String conflist) throws Exception {
        assumeInstalled();
        Containerd c = new Containerd(dir, netns);
        try {
            c.setUp(conflist);
            c.launch();
            c.importSandboxImage();
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    private Containerd(Path dir, String netns) throws IOException {
        this.dir = dir;
        this.netDir = dir.resolve("net.d");
        this.pluginDir = dir.resolve("cni-bin");
        this.socket = dir.resolve("containerd.sock");
        this.log = dir.resolve("containerd.log");
        this.netns = netns;
        // The bind mount needs a mount point; it is removed at the end when this made it.
        this.madeRunContainerd = !Files.exists(RUN_CONTAINERD);
        if (madeRunContainerd) {
            Files.createDirectories(RUN_CONTAINERD);
        }
    }

    private void setUp(String conflist) throws IOException {
        for (String d : List.of("root", "state", "opt", "runc", "var-lib", "run-containerd", "logs", "net.d",
                "cni-bin", "image")) {
            Files.createDirectories(dir.resolve(d));
        }
        for (String plugin : List.of("bridge", "host-local", "loopback", "portmap", "bandwidth")) {
            Files.createSymbolicLink(pluginDir.resolve(plugin), Path.of("/usr/lib/cni", plugin));
        }
        Path install = PLUGIN.toAbsolutePath().getParent().getParent().resolve("install.sh");
        Sh.run(install.toString(), "--bin-dir", pluginDir.toString(), "--no-conf");
        network(conflist);
        String cri = "[plugins.\"io.containerd.grpc.v1.cri\"";
        Files.writeString(dir.resolve("config.toml"), String.join("\n",
                "version = 2",
                "root = \"" + dir.resolve("root") + "\"",
                "state = \"" + dir.resolve("state") + "\"",
                "disabled_plugins = [\"io.containerd.snapshotter.v1.aufs\", \"io.containerd.snapshotter.v1.btrfs\","
                        + " \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\","
                        + " \"io.containerd.tracing.processor.v1.otlp\"]",
                "[grpc]",
                "  address = \"" + socket + "\"",
                "[metrics]",
                "  address = \"\"",
                "[plugins.\"io.containerd.internal.v1.opt\"]",
                "  path = \"" + dir.resolve("opt") + "\"",
                cri + "]",
                "  sandbox_image = \"" + SANDBOX_IMAGE + "\"",
                "  stream_server_address = \"127.0.0.1\"",
                "  stream_server_port = \"0\"",
                "  disable_apparmor = true",
                // A sandbox's oom_score_adj is -998, which needs CAP_SYS_RESOURCE: these machines do not give it
                // to root (runc then fails with "can't get final child's PID from pipe").
                "  restrict_oom_score_adj = true",
                cri + ".containerd]",
                "  snapshotter = \"native\"",
                "  default_runtime_name = \"runc\"",
                cri + ".containerd.runtimes.runc]",
                "  runtime_type = \"io.containerd.runc.v2\"",
                cri + ".containerd.runtimes.runc.options]",
                "  BinaryName = \"/usr/sbin/runc\"",
                "  Root = \"" + dir.resolve("runc") + "\"",
                "  SystemdCgroup = false",
                cri + ".cni]",
                "  bin_dir = \"" + pluginDir + "\"",
                "  conf_dir = \"" + netDir + "\"",
                "  max_conf_num = 1",
                ""));
    }

    /** Replaces the CNI configuration (the CRI plugin watches its directory and loads the new one). */
    void network(String conflist) throws IOException {
        Files.writeString(netDir.resolve("10-test.conflist"), conflist);
    }

    /** Starts containerd and waits until its CRI service answers. */
    void launch() throws Exception {
        String exec = (netns == null ? "" : "nsenter --net=/run/netns/" + netns + " ") + "containerd --config "
                + dir.resolve("config.toml");
        String script = "mount --bind " + dir.resolve("var-lib") + " /var/lib && mount --bind "
                + dir.resolve("run-containerd") + " " + RUN_CONTAINERD + " && exec " + exec;
        process = new ProcessBuilder("unshare", "--mount", "--propagation", "unchanged", "--", "sh", "-c", script)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        group = new EpollEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        cri = RuntimeServiceGrpc.newBlockingStub(channel);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            if (!process.isAlive()) {
                throw new AssertionError("containerd exited (" + process.exitValue() + "):\n"
                        + LocalCluster.tail(log));
            }
            try {
                if (Files.exists(socket)) {
                    cri().version(VersionRequest.newBuilder().setVersion("v1").build());
                    return;
                }
            } catch (io.grpc.StatusRuntimeException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("containerd's CRI did not answer within 60 s: " + notYet + "\n"
                            + LocalCluster.tail(log));
                }
            }
            Thread.sleep(100);
        }
    }

    /** SIGTERM, as systemd stops it; the shims and the pods go on running. */
    void stopDaemon() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    RuntimeServiceGrpc.RuntimeServiceBlockingStub cri() {
        return cri.withDeadlineAfter(120, TimeUnit.SECONDS);
    }

    /** A pod's sandbox config as kubelet writes one: metadata, hostname, log directory, cgroup parent. */
    PodSandboxConfig.Builder pod(String name) {
        return PodSandboxConfig.newBuilder()
                .setMetadata(PodSandboxMetadata.newBuilder().setName(name).setNamespace("default")
                        .setUid(java.util.UUID.randomUUID().toString()))
                .setHostname(name)
                .setLogDirectory(dir.resolve("logs").resolve(name).toString())
                .setLinux(io.wgcni.e2e.cri.LinuxPodSandboxConfig.newBuilder().setCgroupParent("/" + cgroup));
    }

    String runPodSandbox(PodSandboxConfig.Builder config) {
        String id = cri().runPodSandbox(RunPodSandboxRequest.newBuilder().setConfig(config).build())
                .getPodSandboxId();
        sandboxes.add(id);
        podNamespaces.add(netnsPath(id));
        return id;
    }

    PodSandboxStatusResponse status(String id) {
        return cri().podSandboxStatus(PodSandboxStatusRequest.newBuilder().setPodSandboxId(id).setVerbose(true)
                .build());
    }

    /**
     * Returns once containerd has handled the exit of the sandbox's process and reports the pod NOTREADY, as
     * kubelet's PLEG sees a pod whose sandbox died. A StopPodSandbox sent before that still finds the pod READY and
     * asks the shim to kill a task that has just exited, and containerd 1.6 fails it when the shim goes away
     * under the kill ("ttrpc: closed").
     */
    void awaitNotReady(String id) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (status(id).getStatus().getState() != PodSandboxState.SANDBOX_NOTREADY) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("containerd still reports " + id + " READY 30 s after its process died");
            }
            Thread.sleep(20);
        }
    }

    /** The pod's IP address, as CRI reports it from the CNI result. */
    String ip(String id) {
        return status(id).getStatus().getNetwork().getIp();
    }

    /** The verbose status's "info": containerd's own view of the sandbox. */
    Map<?, ?> info(String id) {
        try {
            return (Map<?, ?>) Json.parse(status(id).getInfoOrThrow("info"));
        } catch (Json.ParseException e) {
            throw new AssertionError("CRI's verbose status is not JSON", e);
        }
    }

    /** The sandbox's process (busybox sleep, PID 1 of the pod). */
    long pid(String id) {
        return ((Number) info(id).get("pid")).longValue();
    }

    /** The pod's network namespace (/var/run/netns/cni-...), from the runtime spec in the verbose status. */
    String netnsPath(String id) {
        Map<?, ?> info = info(id);
        Map<?, ?> linux = (Map<?, ?>) ((Map<?, ?>) info.get("runtimeSpec")).get("linux");
        for (Object ns : (List<?>) linux.get("namespaces")) {
            Map<?, ?> n = (Map<?, ?>) ns;
            if ("network".equals(n.get("type"))) {
                return (String) n.get("path");
            }
        }
        throw new AssertionError("no network namespace in " + info);
    }

    void stopPodSandbox(String id) {
        cri().stopPodSandbox(StopPodSandboxRequest.newBuilder().setPodSandboxId(id).build());
    }

    void removePodSandbox(String id) {
        cri().removePodSandbox(RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build());
        sandboxes.remove(id);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The sandbox image

    private void importSandboxImage() throws Exception {
        Path image = dir.resolve("image");
        Path rootfs = Files.createDirectories(image.resolve("rootfs/bin"));
        Files.copy(Path.of("/bin/busybox"), rootfs.resolve("busybox"));
        Path oci = Files.createDirectories(image.resolve("oci/blobs/sha256"));
        Path layer = image.resolve("layer.tar");
        Sh.run("tar", "--numeric-owner", "--owner=0", "--group=0", "-C", image.resolve("rootfs").toString(), "-cf",
                layer.toString(), ".");
        byte[] layerBytes = Files.readAllBytes(layer);
        String layerDigest = blob(oci, layerBytes);
        String config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/busybox\","
                + "\"sleep\",\"2147483647\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + layerDigest + "\"]}}";
        byte[] configBytes = config.getBytes(StandardCharsets.UTF_8);
        String manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\""
                + blob(oci, configBytes) + "\",\"size\":" + configBytes.length + "},\"layers\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" + layerDigest + "\",\"size\":"
                + layerBytes.length + "}]}";
        byte[] manifestBytes = manifest.getBytes(StandardCharsets.UTF_8);
        Files.writeString(image.resolve("oci/index.json"), "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + blob(oci, manifestBytes)
                + "\",\"size\":" + manifestBytes.length + ",\"annotations\":{\"io.containerd.image.name\":\""
                + SANDBOX_IMAGE + "\",\"org.opencontainers.image.ref.name\":\"1\"}}]}");
        Files.writeString(image.resolve("oci/oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Path archive = image.resolve("pause.tar");
        Sh.run("tar", "-C", image.resolve("oci").toString(), "-cf", archive.toString(), "oci-layout", "index.json",
                "blobs");
        Sh.run("ctr", "--address", socket.toString(), "--namespace", "k8s.io", "images", "import", "--snapshotter",
                "native", archive.toString());
    }

    private static String blob(Path blobs, byte[] content) throws Exception {
        String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        Files.write(blobs.resolve(hex), content);
        return "sha256:" + hex;
    }

    // ---------------------------------------------------------------------------------------------------------------

    @Override
    public void close() throws Exception {
        try {
            if (process != null && process.isAlive()) {
                for (String id : List.copyOf(sandboxes)) {
                    try {
                        stopPodSandbox(id);
                        removePodSandbox(id);
                    } catch (RuntimeException e) {
                        // best effort: what is left is removed below
                    }
                }
                stopDaemon();
            } else if (channel != null) {
                channel.shutdownNow();
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            }
        } finally {
            killShims();
            for (String ns : podNamespaces) {
                if (Files.exists(Path.of(ns))) {
                    Sh.quietly("umount", ns);
                    Sh.quietly("rm", "-f", ns);
                }
            }
            Sh.removeCgroup(cgroup);
            keepLog();
            if (madeRunContainerd) {
                Sh.quietly("rmdir", RUN_CONTAINERD.toString());
            }
            Sh.quietly("rm", "-rf", dir.toString());
        }
    }

    /** The shims this containerd started (their command line names its socket), by process id. */
    private void killShims() throws IOException {
        List<ProcessHandle> shims = new ArrayList<>();
        try (Stream<ProcessHandle> all = ProcessHandle.allProcesses()) {
            all.forEach(p -> {
                String cmd = p.info().arguments().map(a -> String.join(" ", a)).orElse("");
                if (p.info().command().orElse("").endsWith("containerd-shim-runc-v2")
                        && cmd.contains(socket.toString())) {
                    shims.add(p);
                }
            });
        }
        for (ProcessHandle shim : shims) {
            shim.destroyForcibly();
        }
    }

    private void keepLog() {
        try {
            Path kept = Files.createDirectories(Path.of("target", "it-logs"));
            if (Files.exists(log)) {
                Files.copy(log, kept.resolve("containerd-" + dir.getFileName() + "-" + cgroup + ".log"));
            }
        } catch (IOException e) {
            // only a debugging aid
        }
    }
}
