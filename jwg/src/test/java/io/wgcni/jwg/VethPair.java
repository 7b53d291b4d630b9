package io.wgcni.jwg;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Two network namespaces joined by a veth pair (10.77.0.1/24 and 10.77.0.2/24, fd77::1/64 and fd77::2/64),
 * and the processes a test starts in them. Everything is removed on close, even after a failure.
 */
final class VethPair implements AutoCloseable {
    final String tag = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
    final String a = "wgt-" + tag + "-a";
    final String b = "wgt-" + tag + "-b";
    private final List<Process> processes = new ArrayList<>();

    VethPair() throws IOException {
        try {
            run("ip", "netns", "add", a);
            run("ip", "netns", "add", b);
            run("ip", "link", "add", "veth-" + tag + "a", "netns", a, "type", "veth", "peer", "name",
                "veth-" + tag + "b", "netns", b);
            setUp(a, "veth-" + tag + "a", "10.77.0.1/24", "fd77::1/64");
            setUp(b, "veth-" + tag + "b", "10.77.0.2/24", "fd77::2/64");
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private void setUp(String ns, String veth, String v4, String v6) throws IOException {
        run("ip", "-n", ns, "link", "set", "lo", "up");
        run("ip", "-n", ns, "addr", "add", v4, "dev", veth);
        run("ip", "-n", ns, "addr", "add", v6, "dev", veth, "nodad");
        run("ip", "-n", ns, "link", "set", veth, "up");
    }

    /** A unique interface name (15 characters at most) for this test. */
    String iface(String role) {
        return "wg" + role + tag;
    }

    /** Runs a command to completion in the host namespace; its stdout, or an exception with its stderr. */
    static String run(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", cmd));
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + err.strip());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd));
        }
    }

    /** Runs a command inside {@code ns}. */
    String in(String ns, String... cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(List.of(cmd));
        return run(full.toArray(String[]::new));
    }

    /** Starts a long-running command inside {@code ns}; it is killed on close. Output goes to {@code log}. */
    Process start(String ns, java.nio.file.Path log, String... cmd) throws IOException {
        return start(ns, log, java.util.Map.of(), cmd);
    }

    /** As {@link #start(String, java.nio.file.Path, String...)}, with {@code env} added to the command's. */
    Process start(String ns, java.nio.file.Path log, java.util.Map<String, String> env, String... cmd)
            throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(List.of(cmd));
        ProcessBuilder pb = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (String ns : List.of(a, b)) {
            try {
                run("ip", "netns", "del", ns);
            } catch (IOException e) {
                // not created, or already gone
            }
        }
    }
}
