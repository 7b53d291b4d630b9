package io.wgcni.e2e;

import static io.wgcni.cni.PluginProcess.PLUGIN;
import static io.wgcni.cni.PluginProcess.errorCode;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.cni.CniException;
import io.wgcni.cni.Json;
import io.wgcni.cni.PluginProcess;
import io.wgcni.cni.Sh;
import io.wgcni.node.LocalCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every command, in every supported version, through the installed executable against real node-managers (two
 * nodes of a {@link LocalCluster}), in the style of containernetworking/plugins' tests: each container is a fresh
 * namespace, and what the plugin reports is checked against what is really in it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PluginClusterIT {
    private Path work;
    private LocalCluster cluster;

    /** Why this machine cannot run these tests, or null: each test then skips with it (a skip in @BeforeAll
     *  would drop the tests and the reason from the reports). */
    private String missing;

    @BeforeAll
    void startCluster() throws Exception {
        try {
            LocalCluster.assumeBuilt();
        } catch (org.opentest4j.TestAbortedException e) {
            missing = e.getMessage();
            return;
        }
        work = Files.createTempDirectory("cn-nmit");
        cluster = LocalCluster.start(work, 2);
    }

    @BeforeEach
    void available() {
        org.junit.jupiter.api.Assumptions.assumeTrue(missing == null, missing);
    }

    @AfterAll
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
        if (work != null) {
            Sh.quietly("rm", "-rf", work.toString());
        }
    }

    private String conf(String version, int node, String extra) {
        return "{\"cniVersion\":\"" + version + "\",\"name\":\"wgnet\",\"type\":\"wireguard\",\"socket\":\""
                + cluster.node(node).cniSocket + "\"" + extra + "}";
    }

    private static Map<String, String> env(String command, String container, String netns) {
        Map<String, String> env = new HashMap<>();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", container);
        if (netns != null) {
            env.put("CNI_NETNS", "/var/run/netns/" + netns);
        }
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_PATH", "/opt/cni/bin");
        env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;SOMETHING_ELSE=x");
        return env;
    }

    private static Sh.Result ok(Sh.Result r) {
        assertEquals(0, r.status(), Sh.text(r));
        return r;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(Sh.Result r) throws Exception {
        return (Map<String, Object>) Json.parse(r.stdout());
    }

    @SuppressWarnings("unchecked")
    private static <T> T at(Object json, Object... path) {
        Object v = json;
        for (Object key : path) {
            v = key instanceof Integer i ? ((List<Object>) v).get(i) : ((Map<String, Object>) v).get(key);
        }
        return (T) v;
    }

    private String add(String version, int node, String netns) throws Exception {
        Sh.Result r = ok(PluginProcess.run(PLUGIN, env("ADD", netns, netns), conf(version, node, "")));
        return r.stdout().strip();
    }

    /** Pings until the tunnels have their handshakes (the first packets may wait for them). */
    private static void ping(String fromNetns, String address) throws Exception {
        Sh.Result r = Sh.in(fromNetns, "ping", "-c", "3", "-i", "0.2", "-W", "5", address);
        assertTrue(r.stdout().contains(" 0% packet loss") || r.stdout().contains(" 33% packet loss"),
                "ping " + address + " from " + fromNetns + ": " + Sh.text(r));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.4.0", "1.0.0", "1.1.0"})
    @Order(1)
    void addCheckDel(String version) throws Exception {
        String c = cluster.emptyNamespace();
        String result = add(version, 1, c);
        Map<String, Object> json = (Map<String, Object>) Json.parse(result);
        assertEquals(version, json.get("cniVersion"));
        assertEquals("eth0", at(json, "interfaces", 0, "name"));
        assertEquals("/var/run/netns/" + c, at(json, "interfaces", 0, "sandbox"));
        assertNull(at(json, "interfaces", 0, "mac"), "a TUN has no MAC address");
        assertEquals(version.equals("1.1.0"), at(json, "interfaces", 0, "mtu") != null);
        String address = at(json, "ips", 0, "address");
        assertEquals(0L, (Long) at(json, "ips", 0, "interface"));
        assertEquals(version.equals("0.4.0") ? "4" : null, at(json, "ips", 0, "version"));
        assertEquals("0.0.0.0/0", at(json, "routes", 0, "dst"));
        String gateway = at(json, "ips", 0, "gateway");

        // What the result says is what the container has.
        String inside = Sh.in(c, "ip", "-o", "address", "show", "dev", "eth0").stdout();
        assertTrue(inside.contains("inet " + address), inside);
        assertTrue(Sh.in(c, "ip", "route", "show", "default").stdout().contains("dev eth0"));
        ping(c, gateway);

        String withPrev = conf(version, 1, ",\"prevResult\":" + result);
        ok(PluginProcess.run(PLUGIN, env("CHECK", c, c), withPrev));

        // A second ADD of the same container and interface answers the same (runtimes retry).
        assertEquals(result, add(version, 1, c));

        ok(PluginProcess.run(PLUGIN, env("DEL", c, c), withPrev));
        assertFalse(Sh.in(c, "ip", "link").stdout().contains("eth0"), "DEL removed the interface");
        assertEquals(3, errorCode(PluginProcess.run(PLUGIN, env("CHECK", c, c), withPrev)), "CHECK after DEL");
        // Repeated, without prevResult, without a namespace, for a container it never saw.
        ok(PluginProcess.run(PLUGIN, env("DEL", c, c), conf(version, 1, "")));
        ok(PluginProcess.run(PLUGIN, env("DEL", c, null), conf(version, 1, "")));
        ok(PluginProcess.run(PLUGIN, env("DEL", "cnnever", null), conf(version, 1, "")));
        Sh.Result bare = ok(Sh.exec(Map.of("CNI_COMMAND", "DEL", "CNI_CONTAINERID", c, "CNI_IFNAME", "eth0",
                "CNI_PATH", "/opt/cni/bin"), true, Sh.utf8(conf(version, 1, "")), List.of(PLUGIN.toString())));
        assertEquals("", bare.stdout());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.4.0", "1.0.0", "1.1.0"})
    @Order(2)
    void addFailsWhenTheInterfaceExists(String version) throws Exception {
        String c = cluster.emptyNamespace();
        Sh.run("ip", "-n", c, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
        Sh.Result r = PluginProcess.run(PLUGIN, env("ADD", c, c), conf(version, 1, ""));
        assertEquals(CniException.INTERFACE_EXISTS, errorCode(r));
        assertTrue(r.stdout().contains("eth0"), r.stdout());
        assertTrue(Sh.run("ip", "-n", c, "-d", "link", "show", "eth0").contains("veth"), "left alone");
    }

    @Test
    @Order(3)
    void containersOnTwoNodesReachEachOther() throws Exception {
        String a = cluster.emptyNamespace();
        String b = cluster.emptyNamespace();
        Map<String, Object> ra = (Map<String, Object>) Json.parse(add("1.0.0", 1, a));
        Map<String, Object> rb = (Map<String, Object>) Json.parse(add("1.0.0", 2, b));
        String addressB = at(rb, "ips", 0, "address");
        String addressA = at(ra, "ips", 0, "address");
        ping(a, addressB.substring(0, addressB.indexOf('/')));
        ping(b, addressA.substring(0, addressA.indexOf('/')));
        ok(PluginProcess.run(PLUGIN, env("DEL", a, a), conf("1.0.0", 1, "")));
        ok(PluginProcess.run(PLUGIN, env("DEL", b, b), conf("1.0.0", 2, "")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.4.0", "1.0.0", "1.1.0"})
    @Order(4)
    void checkSaysWhatIsWrong(String version) throws Exception {
        String c = cluster.emptyNamespace();
        String result = add(version, 1, c);
        String address = at(Json.parse(result), "ips", 0, "address");
        ping(c, at(Json.parse(result), "ips", 0, "gateway"));
        String withPrev = conf(version, 1, ",\"prevResult\":" + result);
        ok(PluginProcess.run(PLUGIN, env("CHECK", c, c), withPrev));

        Sh.run("ip", "-n", c, "address", "delete", address, "dev", "eth0");
        Sh.Result r = PluginProcess.run(PLUGIN, env("CHECK", c, c), withPrev);
        assertEquals(CniException.CHECK_FAILED, errorCode(r));
        assertTrue(r.stdout().contains(address.substring(0, address.indexOf('/'))), "names the address: "
                + r.stdout());

        Sh.run("ip", "-n", c, "link", "delete", "eth0");
        r = PluginProcess.run(PLUGIN, env("CHECK", c, c), withPrev);
        assertEquals(CniException.CHECK_FAILED, errorCode(r));
        assertTrue(r.stdout().contains("eth0"), r.stdout());
        ok(PluginProcess.run(PLUGIN, env("DEL", c, c), withPrev));
    }

    @Test
    @Order(5)
    void chainedAfterBridgeMovesTheDefaultRoute() throws Exception {
        String host = cluster.emptyNamespace();
        String c = cluster.emptyNamespace();
        String bridgeConf = "{\"cniVersion\":\"1.0.0\",\"name\":\"wgnet\",\"type\":\"bridge\",\"bridge\":\"cn"
                + cluster.tag() + "b\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\","
                + "\"subnet\":\"10.233.0.0/24\","
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dataDir\":\"" + work.resolve("ipam") + "\"}}";
        Map<String, String> env = env("ADD", c, c);
        env.put("CNI_PATH", "/usr/lib/cni");
        Sh.Result bridge = ok(Sh.exec(env, true, Sh.utf8(bridgeConf),
                List.of("nsenter", "--net=/run/netns/" + host, "/usr/lib/cni/bridge")));
        String prev = bridge.stdout().strip();

        Sh.Result r = ok(PluginProcess.run(PLUGIN, env,
                conf("1.0.0", 1, ",\"ifName\":\"wg0\",\"prevResult\":" + prev)));
        Map<String, Object> json = json(r);
        List<Object> interfaces = at(json, "interfaces");
        assertEquals("wg0", at(interfaces.getLast(), "name"));
        assertEquals(interfaces.size() - 1, ((Long) at(json, "ips", 1, "interface")).intValue());
        assertEquals((String) at(Json.parse(prev), "ips", 0, "address"), (String) at(json, "ips", 0, "address"),
                "kept bridge's");
        List<Object> routes = at(json, "routes");
        assertEquals(1, routes.stream().filter(route -> "0.0.0.0/0".equals(at(route, "dst"))).count());
        assertTrue(Sh.in(c, "ip", "route", "show", "default").stdout().contains("dev wg0"),
                Sh.in(c, "ip", "route").stdout());
        assertTrue(Sh.in(c, "ip", "link", "show", "eth0").stdout().contains("eth0"), "bridge's eth0 stays");

        ok(PluginProcess.run(PLUGIN, env("DEL", c, c), conf("1.0.0", 1, ",\"ifName\":\"wg0\"")));
        assertFalse(Sh.in(c, "ip", "link").stdout().contains("wg0"));
    }

    @Test
    @Order(6)
    void gcReleasesEveryAttachmentNotListed() throws Exception {
        String keep = cluster.emptyNamespace();
        String drop = cluster.emptyNamespace();
        add("1.1.0", 1, keep);
        add("1.1.0", 1, drop);
        Sh.Result r = ok(PluginProcess.run(PLUGIN, Map.of("CNI_COMMAND", "GC", "CNI_PATH", "/opt/cni/bin"),
                conf("1.1.0", 1, ",\"cni.dev/valid-attachments\":[{\"containerID\":\"" + keep
                        + "\",\"ifname\":\"eth0\"}]")));
        assertEquals("", r.stdout());
        assertTrue(r.stderr().contains(drop), "logs the release: " + r.stderr());
        assertFalse(Sh.in(drop, "ip", "link").stdout().contains("eth0"), "released");
        assertTrue(Sh.in(keep, "ip", "link").stdout().contains("eth0"), "kept");
        ok(PluginProcess.run(PLUGIN, env("DEL", keep, keep), conf("1.1.0", 1, "")));
    }

    @Test
    @Order(7)
    void statusFollowsNodeManager() throws Exception {
        Map<String, String> env = Map.of("CNI_COMMAND", "STATUS", "CNI_PATH", "/opt/cni/bin");
        Sh.Result r = ok(PluginProcess.run(PLUGIN, env, conf("1.1.0", 2, "")));
        assertEquals("", r.stdout());
        cluster.node(2).stop();
        assertEquals(50, errorCode(PluginProcess.run(PLUGIN, env, conf("1.1.0", 2, ""))));
        String c = cluster.emptyNamespace();
        assertEquals(11, errorCode(PluginProcess.run(PLUGIN, env("ADD", c, c), conf("1.0.0", 2, ""))));
    }
}
