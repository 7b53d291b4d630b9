package io.wgcni.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class NodeManagerCliTest {
    private static final Map<String, String> ENV = Map.of("WGCNI_CLUSTER", "10.0.0.1:7443", "WGCNI_MTU", "1400",
            "WGCNI_KEEP_TUNNELS_ON_EXIT", "true", "WGCNI_DATA_DIR", "/srv/node");

    private static NodeManager.Run run(Map<String, String> env, String... args) {
        CommandLine.ParseResult parsed = NodeManager.commandLine(env).parseArgs(args);
        return (NodeManager.Run) parsed.subcommand().commandSpec().userObject();
    }

    @Test
    void everyOptionComesFromItsVariable() {
        NodeManager.Run r = run(ENV, "run");
        assertEquals("10.0.0.1:7443", r.cluster);
        assertEquals(1400, r.mtu);
        assertTrue(r.keepTunnelsOnExit);
        assertEquals(Path.of("/srv/node"), r.dataDir);
        assertEquals("wg0", r.interfaceName, "unset: the option's default");
    }

    @Test
    void theCommandLineWinsOverTheVariable() {
        NodeManager.Run r = run(ENV, "run", "--mtu", "1300", "--data-dir", "/tmp/n");
        assertEquals(1300, r.mtu);
        assertEquals(Path.of("/tmp/n"), r.dataDir);
    }

    @Test
    void withoutTheVariableARequiredOptionIsMissing() {
        CommandLine cli = NodeManager.commandLine(Map.of());
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        assertEquals(2, cli.execute("run"));
        assertTrue(err.toString().contains("--cluster"), err.toString());
        assertFalse(run(Map.of(), "run", "--cluster", "a:1").keepTunnelsOnExit);
    }

    @Test
    void versionNamesTheProgram() {
        CommandLine cli = NodeManager.commandLine(Map.of());
        StringWriter out = new StringWriter();
        cli.setOut(new PrintWriter(out));
        assertEquals(0, cli.execute("--version"));
        assertTrue(out.toString().startsWith("node-manager "), out.toString());
    }
}
