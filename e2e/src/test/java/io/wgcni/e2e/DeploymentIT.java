package io.wgcni.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The multi-host deployment files are valid for the tools that read them: Vagrant and systemd. */
class DeploymentIT {
    private static final Path ROOT = Path.of(System.getProperty("wgcni.root", "../")).toAbsolutePath().normalize();

    @Test
    void vagrantfileValidates() throws Exception {
        assumeTrue(onPath("vagrant"), "vagrant is not installed");
        // -p: no VirtualBox or libvirt here; everything else in the Vagrantfile is checked.
        String out = run(ROOT.resolve("deploy"), "vagrant", "validate", "-p");
        assertEquals(true, out.contains("Vagrantfile validated successfully"), out);
    }

    @Test
    void systemdUnitsVerify(@TempDir Path dir) throws Exception {
        assumeTrue(onPath("systemd-analyze"), "systemd-analyze is not installed");
        // The units name /opt/wgcni (deploy/install.sh); here they point at this checkout's launchers.
        List<String> units = new ArrayList<>(List.of("systemd-analyze", "verify"));
        for (String unit : List.of("wgcni-cluster-manager.service", "wgcni-node-manager.service")) {
            String text = Files.readString(ROOT.resolve("deploy/systemd").resolve(unit))
                    .replace("/opt/wgcni/", ROOT + "/");
            Path copy = dir.resolve(unit);
            Files.writeString(copy, text);
            units.add(copy.toString());
        }
        String out = run(dir, units.toArray(String[]::new));
        assertEquals("", out.strip(), "systemd-analyze verify found problems");
    }

    private static boolean onPath(String tool) throws Exception {
        return new ProcessBuilder("sh", "-c", "command -v " + tool).start().waitFor() == 0;
    }

    private static String run(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int code = p.waitFor();
        assertEquals(0, code, String.join(" ", command) + " failed:\n" + out);
        return out;
    }
}
