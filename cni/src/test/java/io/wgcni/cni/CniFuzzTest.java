package io.wgcni.cni;

import io.wgcni.api.fuzz.Fuzzer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Mutated CNI invocations (environment lines, a blank line, then stdin) through the whole plugin: it never
 * throws, exits 0 or 1, and on 1 prints exactly one error object with a numeric code and a message, in the
 * specification's shape. The configuration's socket is a path that does not exist: an input that would point
 * the plugin anywhere else (a real node-manager on this machine) is not run.
 */
class CniFuzzTest {
    private static final String SOCKET = "\"socket\":\"/nonexistent/wgcni-fuzz.sock\"";

    @Test
    void ciRun() throws Exception {
        fuzz(Fuzzer.ci(), 15);
    }

    @Test
    @Tag("nightly")
    void nightlyRun() throws Exception {
        fuzz(Fuzzer.nightly(), System.nanoTime());
    }

    private static void fuzz(Duration budget, long seed) throws Exception {
        List<byte[]> seeds = Fuzzer.corpus(CniFuzzTest.class, "cni");
        Fuzzer.run("cni", seeds, budget, seed, input -> {
            String text = new String(input, StandardCharsets.UTF_8);
            int blank = text.indexOf("\n\n");
            if (blank < 0) {
                return;
            }
            String stdin = text.substring(blank + 2);
            int at = stdin.indexOf("\"socket\"");
            if (at >= 0 && (!stdin.startsWith(SOCKET, at) || stdin.indexOf("\"socket\"", at + 1) >= 0)) {
                return; // would name another socket
            }
            Map<String, String> env = new HashMap<>();
            for (String line : text.substring(0, blank).split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    env.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
            boolean usesDefaultSocket = at < 0 && !env.getOrDefault("CNI_COMMAND", "").equals("VERSION");
            if (usesDefaultSocket) {
                return; // the default socket may be a live node-manager's
            }
            PluginTest.Run run = PluginTest.run(env, Arrays.copyOfRange(input, blank + 2, input.length));
            if (run.status() != 0 && run.status() != 1) {
                throw new AssertionError("exit status " + run.status());
            }
            if (run.status() == 1) {
                Object error = Json.parse(run.stdout());
                if (!(error instanceof Map<?, ?> m) || !(m.get("code") instanceof Long)
                        || !(m.get("msg") instanceof String) || !run.stdout().endsWith("}\n")
                        || run.stdout().indexOf('\n') != run.stdout().length() - 1) {
                    throw new AssertionError("not one CNI error object: " + run.stdout());
                }
            }
        });
    }
}
