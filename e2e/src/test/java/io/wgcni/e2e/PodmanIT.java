package io.wgcni.e2e;

import static io.wgcni.cni.PluginProcess.PLUGIN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.cni.Json;
import io.wgcni.cni.Sh;
import io.wgcni.node.LocalCluster;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real container runtime: podman 4.3 (Debian) with its CNI backend and runc starts a busybox container on a
 * {@code wireguard} network of node 1, installed by install.sh into podman's plugin directory, and the container
 * reaches a container on node 2. podman runs in the host's network namespace: the plugin changes nothing there.
 */
class PodmanIT {

    @Test
    void aPodmanContainerReachesAContainerOnAnotherNode(@TempDir Path tmp) throws Exception {
        Podman.assumeInstalled();
        LocalCluster.assumeBuilt();
        try (LocalCluster cluster = LocalCluster.start(tmp.resolve("cluster"), 2);
                Podman podman = Podman.create(tmp.resolve("podman"), null)) {
            Path install = PLUGIN.toAbsolutePath().getParent().getParent().resolve("install.sh");
            Sh.run(install.toString(), "--bin-dir", podman.pluginDir.toString(), "--no-conf");
            podman.network("wgnet", "{\"cniVersion\":\"1.0.0\",\"name\":\"wgnet\",\"plugins\":[{\"type\":\"wireguard\","
                    + "\"socket\":\"" + cluster.node(1).cniSocket + "\",\"omitInterface\":true}]}");

            // The peer: a container on node 2, attached through the plugin as a runtime would.
            String peer = cluster.emptyNamespace();
            Sh.Result added = Sh.exec(Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", peer, "CNI_NETNS",
                    "/var/run/netns/" + peer, "CNI_IFNAME", "eth0", "CNI_PATH", "/opt/cni/bin"), true,
                    Sh.utf8("{\"cniVersion\":\"1.0.0\",\"name\":\"wgnet\",\"type\":\"wireguard\",\"socket\":\""
                            + cluster.node(2).cniSocket + "\"}"), List.of(PLUGIN.toString()));
            assertEquals(0, added.status(), Sh.text(added));
            String cidr = (String) ((Map<?, ?>) ((List<?>) ((Map<?, ?>) Json.parse(added.stdout())).get("ips")).get(0))
                    .get("address");
            String peerAddress = cidr.substring(0, cidr.indexOf('/'));

            // Three handshakes stand between the two (container - wg0, wg0 - wg0, wg0 - container); a lost or
            // crossed initiation is retried after REKEY_TIMEOUT (5 s): give the path up to ~14 s to come up, then
            // ping for the record.
            Sh.Result r = podman.run("wgnet", "sh", "-c", "ip -4 -o address show dev eth0; ip route; "
                    + "for i in 1 2 3 4 5 6 7; do ping -c 1 -W 2 " + peerAddress + " >/dev/null && break; done; "
                    + "ping -c 3 -i 0.2 -W 5 " + peerAddress);
            assertEquals(0, r.status(), Sh.text(r));
            assertTrue(r.stdout().contains("eth0") && r.stdout().contains("inet 10."), r.stdout());
            assertTrue(r.stdout().contains("default via"), r.stdout());
            assertTrue(r.stdout().contains(" 0% packet loss") || r.stdout().contains(" 33% packet loss"), r.stdout());

            // Without omitInterface, the result lists the TUN without a MAC address, which podman 4.3 refuses.
            podman.network("wgmac", "{\"cniVersion\":\"1.0.0\",\"name\":\"wgmac\",\"plugins\":[{\"type\":\"wireguard\","
                    + "\"socket\":\"" + cluster.node(1).cniSocket + "\"}]}");
            Sh.Result refused = podman.run("wgmac", "true");
            assertTrue(refused.status() != 0 && refused.stderr().contains("MAC"), Sh.text(refused));

            // podman's cleanup ran DEL: node 1 has no attachment left (GC with an empty list releases nothing).
            Sh.Result gc = Sh.exec(Map.of("CNI_COMMAND", "GC", "CNI_PATH", "/opt/cni/bin"), true,
                    Sh.utf8("{\"cniVersion\":\"1.1.0\",\"name\":\"wgnet\",\"type\":\"wireguard\",\"socket\":\""
                            + cluster.node(1).cniSocket + "\",\"cni.dev/valid-attachments\":[]}"),
                    List.of(PLUGIN.toString()));
            assertEquals(0, gc.status(), Sh.text(gc));
            assertEquals("", gc.stderr(), "nothing left to release after podman's DEL");
        }
    }
}
