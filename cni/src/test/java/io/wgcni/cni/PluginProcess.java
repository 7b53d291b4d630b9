package io.wgcni.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The installed plugin (cni/target/wireguard, put there by install.sh at package time) run as a runtime runs it:
 * a process with only the variables given (no PATH, no JAVA_HOME). For cni's tests and e2e's (cni's test jar).
 */
public final class PluginProcess {
    /** {@code -Dwgcni.cni.plugin}, else cni/target/wireguard under {@code -Dwgcni.root}. */
    public static final Path PLUGIN = Path.of(System.getProperty("wgcni.cni.plugin",
            Path.of(System.getProperty("wgcni.root", "..")).resolve("cni/target/wireguard").toString()))
            .toAbsolutePath().normalize();

    private PluginProcess() {}

    public static Sh.Result run(Path plugin, Map<String, String> env, String stdin) throws Exception {
        return Sh.exec(env, true, Sh.utf8(stdin), List.of(plugin.toString()));
    }

    /** The variables of a call for container "cnit1", eth0; no CNI_NETNS when {@code netns} is null. */
    public static Map<String, String> env(String command, String netns) {
        Map<String, String> env = new HashMap<>();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", "cnit1");
        if (netns != null) {
            env.put("CNI_NETNS", netns);
        }
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_PATH", "/opt/cni/bin");
        return env;
    }

    public static String conf(String version, String socket) {
        return "{\"cniVersion\":\"" + version + "\",\"name\":\"wgnet\",\"type\":\"wireguard\",\"socket\":\""
                + socket + "\"}";
    }

    /** Exactly one JSON error object on stdout, with the code; the log on stderr. */
    public static long errorCode(Sh.Result r) throws Exception {
        assertEquals(1, r.status(), Sh.text(r));
        assertTrue(r.stdout().endsWith("}\n") && r.stdout().indexOf('\n') == r.stdout().length() - 1,
                "one line of JSON on stdout: " + r.stdout());
        @SuppressWarnings("unchecked")
        Map<String, Object> error = (Map<String, Object>) Json.parse(r.stdout());
        assertTrue(r.stderr().contains("wireguard: "), "logged on stderr: " + r.stderr());
        return (Long) error.get("code");
    }
}
