package io.wgcni.e2e;

import io.wgcni.cni.Sh;
import io.wgcni.wg.Skip;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Debian's podman 4.3 with its CNI backend, kept off the host: its storage, run state, runc's state, network
 * configurations and plugin directory live in a temporary directory; it runs in a mount namespace of its own
 * where /var/lib is an empty tmpfs (libcni's /var/lib/cni cache); containers run in a cgroup named with the "cn"
 * prefix, removed at the end; and, for networks whose host side is a bridge, in a network namespace of the test's.
 * Containers get a busybox-static root filesystem built here ({@code --rootfs}): no image is pulled.
 * ENVIRONMENT-NOTES.md, "Container runtime for CNI tests", lists what podman needs on these machines.
 */
final class Podman implements AutoCloseable {
    final Path dir;
    final Path netDir;
    final Path pluginDir;
    final Path rootfs;
    private final String cgroup = Sh.unique("pod");
    private final String hostNetns;

    /**
     * @param hostNetns the network namespace podman (and so each plugin's host side) runs in, or null for the
     *     host's: our plugin changes nothing there, node-manager does its work in its own namespace
     */
    private Podman(Path dir, String hostNetns) {
        this.dir = dir;
        this.netDir = dir.resolve("net.d");
        this.pluginDir = dir.resolve("cni-bin");
        this.rootfs = dir.resolve("rootfs");
        this.hostNetns = hostNetns;
    }

    static void assumeInstalled() {
        Skip.unlessRoot("podman runs containers in namespaces and cgroups of the test's");
        Skip.unlessCommands("podman containernetworking-plugins runc busybox-static", "podman", "runc", "conmon",
                "unshare", "nsenter");
        Skip.unless(Files.isExecutable(Path.of("/bin/busybox")), Skip.Reason.MISSING_PACKAGE,
                "busybox-static is not installed: apt-get install busybox-static");
    }

    static Podman create(Path dir, String hostNetns) throws IOException {
        assumeInstalled();
        Podman podman = new Podman(dir, hostNetns);
        podman.setUp();
        return podman;
    }

    private void setUp() throws IOException {
        for (String d : List.of("net.d", "cni-bin", "root", "runroot", "runc", "tmp", "rootfs/bin", "rootfs/etc",
                "rootfs/proc", "rootfs/sys", "rootfs/dev", "rootfs/tmp")) {
            Files.createDirectories(dir.resolve(d));
        }
        Files.copy(Path.of("/bin/busybox"), rootfs.resolve("bin/busybox"));
        for (String applet : List.of("sh", "ip", "ping", "cat", "sleep", "nc", "ls", "wget", "true")) {
            Files.createSymbolicLink(rootfs.resolve("bin").resolve(applet), Path.of("busybox"));
        }
        // podman cannot pass runc a state directory for its cleanup process: a wrapper does.
        Path runc = dir.resolve("runc-wrapper");
        Files.writeString(runc, "#!/bin/sh\nexec /usr/sbin/runc --root " + dir.resolve("runc") + " \"$@\"\n");
        Files.setPosixFilePermissions(runc, PosixFilePermissions.fromString("rwxr-xr-x"));
        // Containers may not raise the limits the machine gives podman (conmon's process limit is 32768 here).
        long nofile = hardLimit("Max open files");
        Files.writeString(dir.resolve("containers.conf"), String.join("\n",
                "[containers]",
                "cgroups = \"no-conmon\"",
                "default_ulimits = [\"nofile=" + nofile + ":" + nofile + "\", \"nproc=4096:4096\"]",
                "[engine]",
                "runtime = \"cnrunc\"",
                "cgroup_manager = \"cgroupfs\"",
                "events_logger = \"none\"",
                "tmp_dir = \"" + dir.resolve("tmp") + "\"",
                "[engine.runtimes]",
                "cnrunc = [\"" + runc + "\"]",
                "[network]",
                "network_backend = \"cni\"",
                "network_config_dir = \"" + netDir + "\"",
                "cni_plugin_dirs = [\"" + pluginDir + "\", \"/usr/lib/cni\"]",
                ""));
    }

    private static long hardLimit(String name) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith(name)) {
                String[] fields = line.substring(name.length()).trim().split("\\s+");
                return fields[1].equals("unlimited") ? 1 << 20 : Long.parseLong(fields[1]);
            }
        }
        throw new IOException(name + " missing from /proc/self/limits");
    }

    /** Writes a network configuration list into podman's configuration directory. */
    void network(String name, String conflist) throws IOException {
        Files.writeString(netDir.resolve(name + ".conflist"), conflist);
    }

    /** {@code podman run --rm} of {@code command} in a new container on {@code network}. */
    Sh.Result run(String network, String... command) throws IOException {
        List<String> args = new ArrayList<>(List.of("run", "--rm", "--cgroup-parent=/" + cgroup, "--network",
                network, "--rootfs", rootfs.toString()));
        args.addAll(List.of(command));
        return podman(args);
    }

    /** Any podman command, with this instance's settings. */
    Sh.Result podman(List<String> args) throws IOException {
        StringBuilder script = new StringBuilder("mount -t tmpfs tmpfs /var/lib && exec ");
        if (hostNetns != null) {
            script.append("nsenter --net=/run/netns/").append(hostNetns).append(' ');
        }
        script.append("podman --root ").append(dir.resolve("root")).append(" --runroot ")
                .append(dir.resolve("runroot"));
        for (String arg : args) {
            script.append(" '").append(arg.replace("'", "'\\''")).append('\'');
        }
        // --propagation unchanged keeps /run/netns shared with the host, so that the network namespaces podman
        // makes there are visible to node-manager; "/" is private here, so the tmpfs stays in this namespace.
        return Sh.exec(Map.of("CONTAINERS_CONF", dir.resolve("containers.conf").toString()), false, new byte[0],
                List.of("unshare", "--mount", "--propagation", "unchanged", "--", "sh", "-c", script.toString()));
    }

    @Override
    public void close() throws IOException {
        try {
            podman(List.of("rm", "--all", "--force", "--time", "0"));
        } finally {
            // The containers' cgroups: podman removes each container's; the parent is ours.
            Sh.removeCgroup(cgroup);
            Sh.quietly("rm", "-rf", dir.toString());
        }
    }

    static String text(Sh.Result r) {
        return "exit " + r.status() + "\nstdout: " + r.stdout() + "\nstderr: " + r.stderr();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
