package io.wgcni.tun;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Link, address and route configuration of one network namespace, done by running iproute2's {@code ip} with an
 * explicit argument list (never through a shell). In a named namespace the command is {@code ip -n NAME ...}; in a
 * namespace given by path (say {@code /proc/PID/ns/net}) it is {@code nsenter --net=PATH ip ...}.
 *
 * <p>A fork per change costs a few milliseconds; rtnetlink through JNA would not, and is the way to go if
 * configuration ever becomes a hot path (the CNI ADD, say). Every failure is a {@link CommandException} with the
 * command and its stderr.
 */
public final class Links {
    private static final long TIMEOUT_SECONDS = 30;
    private static final String IP = findIp();
    private static final Links HOST = new Links(null);

    private final String netns;

    private Links(String netns) {
        this.netns = netns;
    }

    /**
     * The calling thread's namespace: a forked {@code ip} starts in the namespace of the thread that forks it, so
     * inside {@link Netns#inNamespace} this is that namespace, and elsewhere the process's own.
     */
    public static Links host() {
        return HOST;
    }

    /** A namespace by name (under {@code /var/run/netns}) or by path (a name with a '/'). */
    public static Links in(String netns) {
        return new Links(Objects.requireNonNull(netns, "netns"));
    }

    /** The namespace's name or path, or null for the host's. */
    public String netns() {
        return netns;
    }

    public void setUp(String link) throws IOException {
        ip("link", "set", "dev", link, "up");
    }

    public void setDown(String link) throws IOException {
        ip("link", "set", "dev", link, "down");
    }

    public void setMtu(String link, int mtu) throws IOException {
        ip("link", "set", "dev", link, "mtu", Integer.toString(mtu));
    }

    /** The link's MTU as the kernel reports it. */
    public int mtu(String link) throws IOException {
        String out = ip("-o", "link", "show", "dev", link);
        String[] words = out.split("\\s+");
        for (int i = 0; i + 1 < words.length; i++) {
            if (words[i].equals("mtu")) {
                return Integer.parseInt(words[i + 1]);
            }
        }
        throw new IOException("no mtu in `ip link show` output: " + out);
    }

    /** True when the link is administratively up ({@code IFF_UP}). */
    public boolean isUp(String link) throws IOException {
        String out = ip("-o", "link", "show", "dev", link);
        int open = out.indexOf('<');
        int close = out.indexOf('>', open);
        if (open < 0 || close < 0) {
            throw new IOException("no flags in `ip link show` output: " + out);
        }
        return List.of(out.substring(open + 1, close).split(",")).contains("UP");
    }

    /** Adds an address with its prefix length, IPv4 ("10.0.0.1/24") or IPv6 ("fd00::1/64"). */
    public void addAddress(String link, String addressWithPrefix) throws IOException {
        ip("address", "add", addressWithPrefix, "dev", link);
    }

    public void deleteAddress(String link, String addressWithPrefix) throws IOException {
        ip("address", "del", addressWithPrefix, "dev", link);
    }

    /** Routes a prefix ("10.1.0.0/16", "fd00:1::/48") to a link. */
    public void addRoute(String prefix, String link) throws IOException {
        ip("route", "add", prefix, "dev", link);
    }

    public void deleteRoute(String prefix, String link) throws IOException {
        ip("route", "del", prefix, "dev", link);
    }

    public void delete(String link) throws IOException {
        ip("link", "del", "dev", link);
    }

    public boolean exists(String link) throws IOException {
        List<String> cmd = command("link", "show", "dev", link);
        Result r = run(cmd);
        if (r.exitCode == 0) {
            return true;
        }
        if (r.stderr.contains("does not exist")) {
            return false;
        }
        throw new CommandException(cmd, r.exitCode, r.stderr);
    }

    /** Runs {@code ip ARGS...} in this namespace and returns its stdout; a non-zero exit throws. */
    public String ip(String... args) throws IOException {
        List<String> cmd = command(args);
        Result r = run(cmd);
        if (r.exitCode != 0) {
            throw new CommandException(cmd, r.exitCode, r.stderr);
        }
        return r.stdout;
    }

    private List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(args.length + 4);
        if (netns == null) {
            cmd.add(IP);
        } else if (netns.indexOf('/') >= 0) {
            cmd.add("nsenter");
            cmd.add("--net=" + netns);
            cmd.add("--");
            cmd.add(IP);
        } else {
            cmd.add(IP);
            cmd.add("-n");
            cmd.add(netns);
        }
        cmd.addAll(List.of(args));
        return cmd;
    }

    record Result(int exitCode, String stdout, String stderr) {
    }

    /** Runs a command (an argument list, no shell) and collects its exit status and output. */
    static Result run(List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()),
                Thread::startVirtualThread);
        String out = drain(p.getInputStream());
        try {
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new CommandException(cmd, -1, "timed out after " + TIMEOUT_SECONDS + " s");
            }
            return new Result(p.exitValue(), out, err.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted waiting for " + cmd);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("reading the stderr of " + cmd, e);
        }
    }

    static void check(List<String> cmd) throws IOException {
        Result r = run(cmd);
        if (r.exitCode != 0) {
            throw new CommandException(cmd, r.exitCode, r.stderr);
        }
    }

    private static String drain(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    static String ipCommand() {
        return IP;
    }

    private static String findIp() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path p = Path.of(dir, "ip");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return "ip";
    }
}
