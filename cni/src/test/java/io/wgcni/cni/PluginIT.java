package io.wgcni.cni;

import static io.wgcni.cni.PluginProcess.PLUGIN;
import static io.wgcni.cni.PluginProcess.conf;
import static io.wgcni.cni.PluginProcess.env;
import static io.wgcni.cni.PluginProcess.errorCode;
import static io.wgcni.cni.PluginProcess.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The installed executable ({@link PluginProcess}) run as a runtime runs it, without node-manager: the calls that
 * reach one are e2e's (PluginClusterIT, and under podman and containerd).
 */
class PluginIT {
    private static final String MISSING = "/nonexistent/wgcni-cni-it.sock";

    @ParameterizedTest
    @ValueSource(strings = {"0.4.0", "1.0.0", "1.1.0"})
    void versionWithPodmansDummyVariables(String version) throws Exception {
        Sh.Result r = run(PLUGIN, Map.of("CNI_COMMAND", "VERSION", "CNI_NETNS", "dummy", "CNI_IFNAME", "dummy",
                "CNI_PATH", "dummy"), "{\"cniVersion\":\"" + version + "\"}");
        assertEquals(0, r.status(), Sh.text(r));
        assertEquals("{\"cniVersion\":\"" + version + "\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n",
                r.stdout());
        assertEquals("", r.stderr(), "nothing on stderr: JVM warnings would reach the runtime's log");
    }

    @Test
    void invalidJsonIsCode6() throws Exception {
        assertEquals(6, errorCode(run(PLUGIN, env("ADD", "/proc/self/ns/net"), "{\"cniVersion\":")));
    }

    @Test
    void missingVariablesAreCode4() throws Exception {
        Map<String, String> env = env("ADD", null);
        Sh.Result r = run(PLUGIN, env, conf("1.0.0", MISSING));
        assertEquals(4, errorCode(r));
        assertTrue(r.stdout().contains("CNI_NETNS"), r.stdout());
        assertEquals(4, errorCode(run(PLUGIN, Map.of(), conf("1.0.0", MISSING))));
    }

    @Test
    void unreachableNodeManager() throws Exception {
        for (String version : Result.SUPPORTED_VERSIONS) {
            assertEquals(11, errorCode(run(PLUGIN, env("ADD", "/proc/self/ns/net"), conf(version, MISSING))));
            assertEquals(11, errorCode(run(PLUGIN, env("DEL", "/proc/self/ns/net"), conf(version, MISSING))));
        }
        assertEquals(11, errorCode(run(PLUGIN, env("GC", null), conf("1.1.0", MISSING)
                .replace("}", ",\"cni.dev/valid-attachments\":[]}"))));
        assertEquals(50, errorCode(run(PLUGIN, Map.of("CNI_COMMAND", "STATUS", "CNI_PATH", "/opt/cni/bin"),
                conf("1.1.0", MISSING))));
    }

    @Test
    void repeatedDelWithoutNetnsSucceedsWithoutNodeManager() throws Exception {
        for (String version : Result.SUPPORTED_VERSIONS) {
            for (int i = 0; i < 2; i++) {
                Sh.Result r = run(PLUGIN, env("DEL", null), conf(version, MISSING));
                assertEquals(0, r.status(), Sh.text(r));
                assertEquals("", r.stdout());
            }
        }
    }

    @Test
    void installsIntoGivenDirectories(@TempDir Path tmp) throws Exception {
        Path install = PLUGIN.toAbsolutePath().getParent().getParent().resolve("install.sh");
        String output = Sh.run(install.toString(), "--prefix", tmp.toString());
        assertTrue(output.contains("installed " + tmp + "/opt/cni/bin/wireguard"), output);
        Path bin = tmp.resolve("opt/cni/bin");
        assertTrue(Files.isExecutable(bin.resolve("wireguard")));
        assertTrue(Files.size(bin.resolve("wireguard.d/cni.aot")) > 0, "AOT cache trained at the destination");
        Path conflist = tmp.resolve("etc/cni/net.d/10-wgcni.conflist");
        assertTrue(Files.readString(conflist).contains("\"type\": \"wireguard\""));

        Files.writeString(conflist, "{}");
        assertTrue(Sh.run(install.toString(), "--prefix", tmp.toString()).contains("kept the existing"));
        assertEquals("{}", Files.readString(conflist), "an existing configuration is never overwritten");

        // AOTMode=on makes the JVM fail when it cannot use the cache.
        Sh.Result r = run(bin.resolve("wireguard"), Map.of("CNI_COMMAND", "VERSION",
                "JDK_JAVA_OPTIONS", "-XX:AOTMode=on"), "{\"cniVersion\":\"1.0.0\"}");
        assertEquals(0, r.status(), "the AOT cache is used: " + Sh.text(r));
    }
}
