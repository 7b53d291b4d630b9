package io.wgcni.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** bin/cluster-manager as a child process; started waits for its "listening on" line. */
final class ServerProcess implements AutoCloseable {
    static final Path ROOT = Path.of(System.getProperty("wgcni.root", ".."));
    static final Path LAUNCHER = ROOT.resolve("bin/cluster-manager");
    private static final Pattern READY = Pattern.compile("cluster-manager listening on (\\S+):(\\d+)");

    final Process process;
    final int port;
    private final StringBuffer log;
    private final CompletableFuture<Integer> drained;

    private ServerProcess(Process process, int port, StringBuffer log, CompletableFuture<Integer> drained) {
        this.process = process;
        this.port = port;
        this.log = log;
        this.drained = drained;
    }

    /** Starts `cluster-manager serve args...` and waits (30 s at most) until it listens. */
    static ServerProcess serve(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(LAUNCHER.toString(), "serve"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        StringBuffer log = new StringBuffer();
        CompletableFuture<Integer> ready = new CompletableFuture<>();
        CompletableFuture<Integer> drained = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r =
                    new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    log.append(line).append('\n');
                    Matcher m = READY.matcher(line);
                    if (m.find()) {
                        ready.complete(Integer.parseInt(m.group(2)));
                    }
                }
            } catch (IOException ignored) {
                // The process went away.
            }
            ready.complete(-1);
            drained.complete(0);
        });
        int port;
        try {
            port = ready.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            p.destroyForcibly();
            throw new IllegalStateException("cluster-manager did not start:\n" + log, e);
        }
        if (port < 0) {
            p.waitFor(5, TimeUnit.SECONDS);
            throw new IllegalStateException("cluster-manager exited (" + p.exitValue() + "):\n" + log);
        }
        return new ServerProcess(p, port, log, drained);
    }

    String target() {
        return "127.0.0.1:" + port;
    }

    /** Runs another cluster-manager command to completion; returns stdout (stderr goes to the test's). */
    static Result run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(LAUNCHER.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        String out = read(p.getInputStream());
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("cluster-manager " + String.join(" ", args) + " did not finish");
        }
        return new Result(p.exitValue(), out, err.join());
    }

    record Result(int exit, String out, String err) {}

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    String log() {
        return log.toString();
    }

    /** SIGTERM; waits for the exit and the last line of output, returns the exit code. */
    int terminate() throws Exception {
        // Not Process.destroy(): it also closes our end of the pipe, and the shutdown log would be lost.
        new ProcessBuilder("kill", "-TERM", Long.toString(process.pid())).inheritIO().start().waitFor();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("cluster-manager ignored SIGTERM:\n" + log);
        }
        drained.get(5, TimeUnit.SECONDS);
        return process.exitValue();
    }

    /** SIGKILL, as kill -9. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
