package io.wgcni.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.wgcni.wg.Skip;
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
        Skip.unlessCommands("vagrant", "vagrant");
        // -p: no VirtualBox or libvirt here; everything else in the Vagrantfile (at the root of the clone, where
        // `vagrant up` finds it) is checked, including that the provisioning scripts it names exist.
        String out = run(ROOT, "vagrant", "validate", "-p");
        assertEquals(true, out.contains("Vagrantfile validated successfully"), out);
    }

    @Test
    void systemdUnitsVerify(@TempDir Path dir) throws Exception {
        Skip.unlessCommands("systemd", "systemd-analyze");
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

    private static String run(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int code = p.waitFor();
        assertEquals(0, code, String.join(" ", command) + " failed:\n" + out);
        return out;
    }
}
