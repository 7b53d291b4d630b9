package io.wgcni.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.cni.Sh;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The podman harness itself, with the reference bridge + host-local plugins in a namespace of the test's. */
class PodmanBridgeIT {

    @Test
    void runsAContainerOnABridgeNetworkWithoutTouchingTheHost(@TempDir Path tmp) throws Exception {
        Podman.assumeInstalled();
        boolean cniCacheBefore = Files.exists(Path.of("/var/lib/cni"));
        String netns = Sh.unique("h");
        String bridge = Sh.unique("br");
        Sh.run("ip", "netns", "add", netns);
        try (Podman podman = Podman.create(tmp.resolve("podman"), netns)) {
            podman.network("cnbr", "{\"cniVersion\":\"1.0.0\",\"name\":\"cnbr\",\"plugins\":[{\"type\":\"bridge\","
                    + "\"bridge\":\"" + bridge + "\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\","
                    + "\"ranges\":[[{\"subnet\":\"10.231.7.0/24\"}]],\"routes\":[{\"dst\":\"0.0.0.0/0\"}],"
                    + "\"dataDir\":\"" + tmp.resolve("ipam") + "\"}}]}");
            Sh.Result r = podman.run("cnbr", "sh", "-c", "ip -4 addr show eth0; ip route; ping -c 1 -W 2 10.231.7.1");
            assertEquals(0, r.status(), Sh.text(r));
            assertTrue(r.stdout().contains("inet 10.231.7."), r.stdout());
            assertTrue(r.stdout().contains("default via 10.231.7.1"), r.stdout());
            assertTrue(r.stdout().contains("1 packets received"), r.stdout());
            assertTrue(Sh.run("ip", "-n", netns, "link", "show", bridge).contains(bridge));
        } finally {
            Sh.quietly("ip", "netns", "delete", netns);
        }
        assertFalse(Sh.run("ip", "link").contains(bridge), "the bridge stayed in the test's namespace");
        assertEquals(cniCacheBefore, Files.exists(Path.of("/var/lib/cni")), "libcni's cache stayed in the tmpfs");
    }
}
