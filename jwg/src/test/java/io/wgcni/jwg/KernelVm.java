package io.wgcni.jwg;

import io.wgcni.tun.Netns;
import io.wgcni.tun.Root;
import io.wgcni.wg.Skip;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Debian's kernel, with its WireGuard module, booted under qemu from an initramfs built at test time (busybox-static,
 * {@code wg} and its libraries, the modules {@code modprobe --show-depends} lists). The guest's eth0 is a tap device in
 * a network namespace of the test's: namespace 10.66.0.1/24 and fd66::1/64, guest 10.66.0.2/24 and fd66::2/64. The
 * guest has an empty {@code wg0} and runs {@code sh} for every TCP connection to 10.66.0.2:23 ({@link #sh}). Inside
 * the tunnel the guest is 10.99.0.2 and fd99::2, the namespace side 10.99.0.1 and fd99::1.
 * <p>
 * {@link #close} kills qemu and every process started in the namespace, then deletes the namespace (and the tap with
 * it); a shutdown hook does the same if the JVM goes down first.
 */
final class KernelVm implements AutoCloseable {
    static final String HOST4 = "10.66.0.1";
    static final String HOST6 = "fd66::1";
    static final String GUEST4 = "10.66.0.2";
    static final String GUEST6 = "fd66::2";
    static final String INNER_HOST4 = "10.99.0.1";
    static final String INNER_HOST6 = "fd99::1";
    static final String INNER_GUEST4 = "10.99.0.2";
    static final String INNER_GUEST6 = "fd99::2";
    static final int GUEST_PORT = 51820;
    private static final int CONTROL_PORT = 23;
    private static final String TAP = "tapvm";

    /** A Debian kernel that has a WireGuard module. */
    record Kernel(String version, Path vmlinuz, Path modules) {}

    /** Whether KVM can boot the kernel here; probed once per JVM (a nested KVM may hang instead). */
    private static Boolean kvmWorks;

    final String ns = Root.unique("wgkvm-");
    final String tag = ns.substring("wgkvm-".length());
    final Path dir;
    final Kernel kernel;
    final Path console;
    final double bootSeconds;
    final String accel;
    private final List<Process> processes = new ArrayList<>();
    private Process qemu;
    private final Thread hook = new Thread(this::cleanUp, "kernel-vm-cleanup");

    // ---------------------------------------------------------------------------------------------------------------
    // What the machine must have

    static String which(String command) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, command))) {
                return Path.of(d, command).toString();
            }
        }
        for (String d : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            if (Files.isExecutable(Path.of(d, command))) {
                return Path.of(d, command).toString();
            }
        }
        return null;
    }

    /** The newest /boot/vmlinuz-KVER whose /lib/modules/KVER has wireguard.ko (possibly compressed). */
    static Optional<Kernel> findKernel() {
        try (Stream<Path> boot = Files.list(Path.of("/boot"))) {
            return boot.filter(p -> p.getFileName().toString().startsWith("vmlinuz-"))
                .map(p -> new Kernel(p.getFileName().toString().substring("vmlinuz-".length()), p,
                    Path.of("/lib/modules", p.getFileName().toString().substring("vmlinuz-".length()))))
                .filter(k -> Files.isReadable(k.vmlinuz()) && wireguardModule(k.modules()).isPresent())
                .max(Comparator.comparing(Kernel::version, KernelVm::compareVersions));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static Optional<Path> wireguardModule(Path modules) {
        Path d = modules.resolve("kernel/drivers/net/wireguard");
        for (String ext : List.of(".ko", ".ko.xz", ".ko.zst", ".ko.gz")) {
            if (Files.exists(d.resolve("wireguard" + ext))) {
                return Optional.of(d.resolve("wireguard" + ext));
            }
        }
        return Optional.empty();
    }

    private static int compareVersions(String a, String b) {
        String[] x = a.split("[.-]");
        String[] y = b.split("[.-]");
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c = x[i].matches("\\d+") && y[i].matches("\\d+")
                ? Long.compare(Long.parseLong(x[i]), Long.parseLong(y[i])) : x[i].compareTo(y[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.length, y.length);
    }

    /** Skips the calling test class, saying what to install, unless qemu, a kernel and the tools are here. */
    static Kernel assumeAvailable() {
        Root.assumeTunAvailable();
        String install = ": apt-get install --no-install-recommends qemu-system-x86 linux-image-amd64 busybox-static"
            + " kmod xz-utils cpio wireguard-tools iputils-ping (.ci/run does)";
        for (String c : List.of("qemu-system-x86_64", "busybox", "modprobe", "cpio", "wg", "ping")) {
            Skip.unless(which(c) != null, Skip.Reason.MISSING_PACKAGE, c + " is not installed" + install);
        }
        Optional<Kernel> k = findKernel();
        Skip.unless(k.isPresent(), Skip.Reason.MISSING_PACKAGE,
            "no /boot/vmlinuz-* with a wireguard module under /lib/modules" + install);
        Skip.unless(Files.isExecutable(WireGuard.JWG), Skip.Reason.NOT_BUILT,
            WireGuard.JWG + " is missing: run after ./wgcni build");
        return k.get();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Boot

    KernelVm(Path dir) throws Exception {
        this.dir = dir;
        this.kernel = findKernel().orElseThrow(() -> new IOException("no kernel with a wireguard module"));
        this.console = dir.resolve("console-" + tag + ".log");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            Path initrd = buildInitramfs();
            VethPair.run("ip", "netns", "add", ns);
            VethPair.run("ip", "-n", ns, "link", "set", "lo", "up");
            VethPair.run("ip", "-n", ns, "tuntap", "add", TAP, "mode", "tap");
            VethPair.run("ip", "-n", ns, "addr", "add", HOST4 + "/24", "dev", TAP);
            VethPair.run("ip", "-n", ns, "addr", "add", HOST6 + "/64", "dev", TAP, "nodad");
            VethPair.run("ip", "-n", ns, "link", "set", TAP, "up");
            long start = System.nanoTime();
            String chosen = null;
            if (!"tcg".equals(System.getProperty("wgcni.kernel.accel")) && kvmWorks != Boolean.FALSE
                && Files.isWritable(Path.of("/dev/kvm"))) {
                boot(initrd, "kvm");
                boolean ok = waitForGuest(kvmWorks == Boolean.TRUE ? 120 : 8, true);
                kvmWorks = ok;
                if (ok) {
                    chosen = "kvm";
                } else {
                    System.out.println("KernelVm: KVM did not boot the guest within 8 s; using TCG");
                    stopQemu();
                    Files.deleteIfExists(console);
                    start = System.nanoTime();
                }
            }
            if (chosen == null) {
                boot(initrd, "tcg");
                if (!waitForGuest(180, false)) {
                    throw new IOException("the guest did not come up within 180 s; console:\n" + consoleLog());
                }
                chosen = "tcg";
            }
            this.accel = chosen;
            this.bootSeconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("KernelVm: Linux %s booted under %s in %.1f s%n", kernel.version(), accel, bootSeconds);
        } catch (Exception | Error e) {
            close();
            throw e;
        }
    }

    private Path buildInitramfs() throws IOException {
        Path root = dir.resolve("initramfs-" + tag);
        for (String d : List.of("bin", "proc", "sys", "dev", "tmp", "mods", "var/run/wireguard")) {
            Files.createDirectories(root.resolve(d));
        }
        Path busybox = Path.of(which("busybox")).toRealPath();
        Path wg = Path.of(which("wg")).toRealPath();
        Files.copy(busybox, root.resolve("bin/busybox"));
        Files.copy(wg, root.resolve("bin/wg"));
        // busybox-static has no libraries; a dynamic busybox gets its own, like wg.
        Set<Path> libs = new LinkedHashSet<>();
        for (Path exe : List.of(busybox, wg)) {
            String out;
            try {
                out = VethPair.run("ldd", exe.toString());
            } catch (IOException e) {
                continue; // "not a dynamic executable"
            }
            Matcher m = Pattern.compile("(/\\S+)\\s+\\(0x").matcher(out);
            while (m.find()) {
                libs.add(Path.of(m.group(1)));
            }
        }
        for (Path lib : libs) {
            Path target = root.resolve(lib.toString().substring(1));
            Files.createDirectories(target.getParent());
            Files.copy(lib.toRealPath(), target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        // Modules in load order, each once.
        String deps = VethPair.run("modprobe", "-S", kernel.version(), "--show-depends", "-a", "virtio_pci",
            "virtio_net", "wireguard");
        Set<String> modules = new LinkedHashSet<>();
        for (String line : deps.split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length >= 2 && f[0].equals("insmod")) {
                modules.add(f[1]);
            }
        }
        int i = 0;
        for (String module : modules) {
            String name = Path.of(module).getFileName().toString();
            Path target = root.resolve(String.format("mods/%02d-%s", ++i, name.replaceAll("\\.ko\\..*$", ".ko")));
            if (name.endsWith(".ko")) {
                Files.copy(Path.of(module), target);
            } else if (name.endsWith(".ko.xz")) {
                decompress(List.of("xz", "-dc", module), target);
            } else if (name.endsWith(".ko.zst")) {
                decompress(List.of("zstd", "-dcq", module), target);
            } else if (name.endsWith(".ko.gz")) {
                decompress(List.of("gzip", "-dc", module), target);
            } else {
                throw new IOException("unknown module format: " + module);
            }
        }
        Files.writeString(root.resolve("init"), """
            #!/bin/busybox sh
            /bin/busybox --install -s /bin
            export PATH=/bin
            mount -t proc proc /proc
            mount -t sysfs sys /sys
            mount -t devtmpfs dev /dev
            exec </dev/console >/dev/console 2>&1
            for m in /mods/*.ko; do insmod "$m" || echo "insmod $m failed"; done
            i=0
            while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
            sysctl -qw net.ipv6.conf.eth0.accept_dad=0
            ip link set lo up
            ip addr add %s/24 dev eth0
            ip -6 addr add %s/64 dev eth0
            ip link set eth0 up
            ip link add wg0 type wireguard && echo "wg0 created"
            nc -ll -p %d -e /bin/sh &
            echo GUEST-READY
            while true; do sleep 3600; done
            """.formatted(GUEST4, GUEST6, CONTROL_PORT));
        Files.setPosixFilePermissions(root.resolve("init"), java.nio.file.attribute.PosixFilePermissions.fromString(
            "rwxr-xr-x"));
        Path initrd = dir.resolve("initrd-" + tag + ".cpio");
        Process p = new ProcessBuilder("sh", "-c", "find . | cpio -o -H newc --quiet")
            .directory(root.toFile()).redirectOutput(initrd.toFile()).redirectError(ProcessBuilder.Redirect.PIPE)
            .start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!waitFor(p, 60) || p.exitValue() != 0) {
            throw new IOException("cpio failed: " + err);
        }
        return initrd;
    }

    private static void decompress(List<String> cmd, Path target) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectOutput(target.toFile()).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!waitFor(p, 60) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (is " + cmd.get(0) + " installed?): " + err);
        }
    }

    private static boolean waitFor(Process p, int seconds) {
        try {
            if (p.waitFor(seconds, TimeUnit.SECONDS)) {
                return true;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        p.destroyForcibly();
        return false;
    }

    private void boot(Path initrd, String how) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "qemu-system-x86_64"));
        cmd.addAll(how.equals("kvm") ? List.of("-accel", "kvm", "-cpu", "host")
            : List.of("-accel", "tcg,thread=multi", "-cpu", "max"));
        cmd.addAll(List.of("-smp", "2", "-m", "256", "-nodefaults", "-display", "none", "-no-reboot",
            "-serial", "file:" + console, "-kernel", kernel.vmlinuz().toString(), "-initrd", initrd.toString(),
            "-append", "console=ttyS0 panic=-1 quiet",
            "-netdev", "tap,id=n0,ifname=" + TAP + ",script=no,downscript=no",
            "-device", "virtio-net-pci,netdev=n0"));
        qemu = new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectOutput(dir.resolve("qemu-" + tag + "-" + how + ".log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    }

    private boolean waitForGuest(int seconds, boolean probe) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!qemu.isAlive()) {
                if (probe) {
                    return false;
                }
                throw new IOException("qemu exited " + qemu.exitValue() + ": "
                    + Files.readString(dir.resolve("qemu-" + tag + "-" + accel() + ".log"))
                    + "\nconsole:\n" + consoleLog());
            }
            if (consoleLog().contains("GUEST-READY")) {
                try {
                    sh("true");
                    return true;
                } catch (IOException e) {
                    // nc not listening yet
                }
            }
            Thread.sleep(100);
        }
        return false;
    }

    private String accel() {
        return qemu.info().commandLine().orElse("").contains("kvm") ? "kvm" : "tcg";
    }

    String consoleLog() {
        try {
            return Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Running things

    /** Runs a shell script in the guest; its output (stdout and stderr), or an exception if it exits non-zero. */
    String sh(String script) throws IOException {
        return sh(script, 60);
    }

    String sh(String script, int timeoutSeconds) throws IOException {
        Socket s = Netns.inNamespace(ns, () -> {
            Socket c = new Socket();
            c.connect(new InetSocketAddress(GUEST4, CONTROL_PORT), 3_000);
            return c;
        });
        try (s) {
            s.setSoTimeout(timeoutSeconds * 1000);
            OutputStream out = s.getOutputStream();
            out.write(("exec 2>&1\n" + script + "\necho \"__RC=$?\"\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            Matcher m = Pattern.compile("__RC=(\\d+)\\s*$").matcher(text);
            if (!m.find()) {
                throw new IOException("guest: no exit status for: " + script + "\n" + text);
            }
            String output = text.substring(0, m.start());
            if (!m.group(1).equals("0")) {
                throw new IOException("guest: `" + script + "` exited " + m.group(1) + ": " + output);
            }
            return output;
        }
    }

    /** Runs a command in the namespace to completion. */
    String in(String... cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(Arrays.asList(cmd));
        return VethPair.run(full.toArray(String[]::new));
    }

    /** Starts a long-running command in the namespace; it is killed by {@link #close}, or earlier by {@link #stop}. */
    Process start(Path log, String... cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(Arrays.asList(cmd));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        synchronized (processes) {
            processes.add(p);
        }
        return p;
    }

    static void stop(Process p) {
        p.descendants().forEach(ProcessHandle::destroy);
        p.destroy();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // WireGuard on both sides

    /** The guest's wg0, configured afresh (any previous wg0 is deleted). */
    final class Guest {
        final Key privateKey = X25519.generatePrivateKey();
        final Key publicKey = X25519.publicKey(privateKey);

        /** Configures wg0 with {@code peer} (jwg); with an endpoint the kernel can initiate. */
        Guest configure(Jwg peer, String endpoint, Key psk) throws IOException {
            StringBuilder script = new StringBuilder();
            script.append("ip link del wg0 2>/dev/null; ip link add wg0 type wireguard\n");
            script.append("umask 077; echo ").append(privateKey.toBase64()).append(" > /tmp/wg-private\n");
            script.append("wg set wg0 private-key /tmp/wg-private listen-port ").append(GUEST_PORT)
                .append(" peer ").append(peer.publicKey.toBase64())
                .append(" allowed-ips ").append(INNER_HOST4).append("/32,").append(INNER_HOST6).append("/128");
            if (endpoint != null) {
                script.append(" endpoint ").append(endpoint);
            }
            if (psk != null) {
                script.insert(0, "umask 077; echo " + psk.toBase64() + " > /tmp/wg-psk\n");
                script.append(" preshared-key /tmp/wg-psk");
            }
            script.append("\nip addr add ").append(INNER_GUEST4).append("/24 dev wg0\n");
            script.append("ip -6 addr add ").append(INNER_GUEST6).append("/64 dev wg0\n");
            script.append("ip link set wg0 up\n");
            sh(script.toString());
            return this;
        }

        String wg(String args) throws IOException {
            return sh("wg " + args);
        }

        /** Seconds since the epoch of wg0's latest handshake with its one peer (0: none). */
        long latestHandshake() throws IOException {
            return Long.parseLong(wg("show wg0 latest-handshakes").strip().split("\\s+")[1]);
        }

        /** {received, sent} bytes of wg0's one peer. */
        long[] transfer() throws IOException {
            String[] f = wg("show wg0 transfer").strip().split("\\s+");
            return new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])};
        }

        void ping(String address) throws IOException {
            sh("ping -c 3 -W 3 " + address, 30);
        }
    }

    /** jwg, started as bin/jwg in the namespace, configured with {@code wg set}. */
    final class Jwg {
        final Key privateKey = X25519.generatePrivateKey();
        final Key publicKey = X25519.publicKey(privateKey);
        final String iface = "wgk" + tag;
        final int port = 51821;
        private Process process;

        Jwg start() throws Exception {
            Path log = dir.resolve(iface + ".log");
            Path socket = Path.of("/var/run/wireguard", iface + ".sock");
            process = KernelVm.this.start(log, WireGuard.JWG.toString(), "-f", iface);
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!Files.exists(socket)) {
                if (System.nanoTime() > deadline || !process.isAlive()) {
                    throw new IOException("jwg did not create " + socket + ": " + Files.readString(log));
                }
                Thread.sleep(20);
            }
            return this;
        }

        Jwg configure(Guest peer, String endpoint, Key psk) throws IOException {
            Path key = dir.resolve(iface + "-private");
            Files.writeString(key, privateKey.toBase64() + "\n");
            List<String> cmd = new ArrayList<>(List.of("wg", "set", iface, "private-key", key.toString(),
                "listen-port", Integer.toString(port), "peer", peer.publicKey.toBase64(), "allowed-ips",
                INNER_GUEST4 + "/32," + INNER_GUEST6 + "/128"));
            if (endpoint != null) {
                cmd.addAll(List.of("endpoint", endpoint));
            }
            if (psk != null) {
                Path p = dir.resolve(iface + "-psk");
                Files.writeString(p, psk.toBase64() + "\n");
                cmd.addAll(List.of("preshared-key", p.toString()));
            }
            in(cmd.toArray(String[]::new));
            in("ip", "addr", "add", INNER_HOST4 + "/24", "dev", iface);
            in("ip", "addr", "add", INNER_HOST6 + "/64", "dev", iface, "nodad");
            in("ip", "link", "set", iface, "up");
            return this;
        }

        String wg(String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of("wg"));
            cmd.addAll(Arrays.asList(args));
            return in(cmd.toArray(String[]::new));
        }

        void ping(String address) throws IOException {
            in("ping", "-c", "3", "-i", "0.2", "-W", "3", address);
        }

        void stop() {
            if (process != null) {
                KernelVm.stop(process);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Clean-up

    private void stopQemu() {
        if (qemu != null) {
            stop(qemu);
            qemu = null;
        }
    }

    private synchronized void cleanUp() {
        List<Process> all;
        synchronized (processes) {
            all = new ArrayList<>(processes);
            processes.clear();
        }
        all.forEach(KernelVm::stop);
        stopQemu();
        try {
            VethPair.run("ip", "netns", "del", ns);
        } catch (IOException e) {
            // not created, or already gone
        }
    }

    @Override
    public void close() {
        cleanUp();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook runs cleanUp again, harmlessly
        }
    }
}
