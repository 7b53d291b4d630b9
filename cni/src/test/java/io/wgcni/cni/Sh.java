package io.wgcni.cni;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Runs commands for the integration tests, and makes names with this module's prefix ("cn"); e2e's tests of the
 * plugin under runtimes use it too (cni's test jar).
 */
public final class Sh {
    private Sh() {}

    public record Result(int status, String stdout, String stderr) {}

    /** A name starting with "cn" and a random tag, unique among tests running in parallel. */
    public static String unique(String what) {
        return "cn" + what + Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36 * 36,
                36L * 36 * 36 * 36 * 36), 36);
    }

    public static Result exec(Map<String, String> env, boolean clearEnv, byte[] stdin, List<String> command)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command);
        if (clearEnv) {
            builder.environment().clear();
        }
        builder.environment().putAll(env);
        Path out = Files.createTempFile("cn-out", ".txt");
        Path err = Files.createTempFile("cn-err", ".txt");
        try {
            Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            try (var in = process.getOutputStream()) {
                in.write(stdin);
            } catch (IOException closedEarly) {
                // the command did not read its input
            }
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException("timed out: " + command);
            }
            return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Runs a command in a network namespace; its result, whatever the exit status. */
    public static Result in(String netns, String... command) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(List.of(command));
        return exec(Map.of(), false, new byte[0], full);
    }

    /** A result for an assertion's message. */
    public static String text(Result r) {
        return "exit " + r.status() + "\nstdout: " + r.stdout() + "\nstderr: " + r.stderr();
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Runs a command that must succeed; returns its stdout. */
    public static String run(String... command) throws IOException {
        Result r = exec(Map.of(), false, new byte[0], List.of(command));
        if (r.status() != 0) {
            throw new IOException(String.join(" ", command) + " failed (" + r.status() + "): " + r.stderr()
                    + r.stdout());
        }
        return r.stdout();
    }

    /** Runs a command whose failure does not matter (cleanup). */
    public static void quietly(String... command) {
        try {
            exec(Map.of(), false, new byte[0], List.of(command));
        } catch (IOException ignored) {
            // best effort
        }
    }

    public static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    /** Removes the cgroup {@code name} (and what runc made below it) from every controller's hierarchy. */
    public static void removeCgroup(String name) throws IOException {
        try (var controllers = Files.list(Path.of("/sys/fs/cgroup"))) {
            for (Path controller : controllers.toList()) {
                Path parent = controller.resolve(name);
                if (Files.isDirectory(parent)) {
                    try (var tree = Files.walk(parent)) {
                        for (Path d : tree.filter(Files::isDirectory)
                                .sorted(java.util.Comparator.reverseOrder()).toList()) {
                            quietly("rmdir", d.toString());
                        }
                    }
                }
            }
        }
    }
}
