package io.wgcni.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The plugin in-process: validation, error objects, versions and results. PluginIT runs the executable. */
class PluginTest {
    private static final String MISSING_SOCKET = "/nonexistent/wgcni-cni-test.sock";

    record Run(int status, String stdout, String stderr) {
        @SuppressWarnings("unchecked")
        Map<String, Object> json() throws Json.ParseException {
            return (Map<String, Object>) Json.parse(stdout);
        }

        long code() throws Json.ParseException {
            return (Long) json().get("code");
        }
    }

    static Run run(Map<String, String> env, String stdin) {
        return run(env, stdin.getBytes(StandardCharsets.UTF_8));
    }

    static Run run(Map<String, String> env, byte[] stdin) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Plugin.run(env, new ByteArrayInputStream(stdin),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Map<String, String> env(String command) {
        Map<String, String> env = new HashMap<>();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", "ctr1");
        env.put("CNI_NETNS", "/proc/self/ns/net");
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_PATH", "/opt/cni/bin");
        return env;
    }

    static String conf(String version, String extra) {
        return "{\"cniVersion\":\"" + version + "\",\"name\":\"wgnet\",\"type\":\"wireguard\",\"socket\":\""
                + MISSING_SOCKET + "\"" + extra + "}";
    }

    @Test
    void versionAnswersWithDummyVariablesAsPodmanSendsThem() throws Exception {
        Map<String, String> env = Map.of("CNI_COMMAND", "VERSION", "CNI_NETNS", "dummy", "CNI_IFNAME", "dummy",
                "CNI_PATH", "dummy");
        Run run = run(env, "{\"cniVersion\":\"1.0.0\"}");
        assertEquals(0, run.status());
        assertEquals("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n",
                run.stdout());
        assertEquals("1.1.0", run(Map.of("CNI_COMMAND", "VERSION"), "").json().get("cniVersion"));
        assertEquals("1.1.0", run(Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\":\"0.3.1\"}").json()
                .get("cniVersion"));
    }

    @ParameterizedTest
    @CsvSource({
        "ADD, CNI_CONTAINERID, CNI_CONTAINERID",
        "ADD, CNI_NETNS, CNI_NETNS",
        "ADD, CNI_IFNAME, CNI_IFNAME",
        "ADD, CNI_PATH, CNI_PATH",
        "CHECK, CNI_NETNS, CNI_NETNS",
        "DEL, CNI_CONTAINERID, CNI_CONTAINERID",
        "DEL, CNI_IFNAME, CNI_IFNAME",
        "GC, CNI_PATH, CNI_PATH",
        "STATUS, CNI_PATH, CNI_PATH"})
    void missingVariablesAreCode4(String command, String removed, String named) throws Exception {
        Map<String, String> env = env(command);
        env.remove(removed);
        Run run = run(env, conf("1.1.0", ""));
        assertEquals(1, run.status());
        assertEquals(4, run.code());
        assertTrue(((String) run.json().get("msg")).contains(named), run.stdout());
        assertEquals("1.1.0", run.json().get("cniVersion"));
        assertTrue(run.stderr().contains(named), "logged on stderr too");
    }

    @Test
    void delNeedsNoNamespace() throws Exception {
        Map<String, String> env = env("DEL");
        env.remove("CNI_NETNS");
        Run run = run(env, conf("1.0.0", ""));
        assertEquals(0, run.status(), run.stdout());
        assertEquals("", run.stdout());
    }

    @Test
    void missingOrUnknownCommandIsCode4() throws Exception {
        Run run = run(Map.of(), "");
        assertEquals(4, run.code());
        assertTrue(run.stderr().contains("CNI protocol versions supported: 0.4.0, 1.0.0, 1.1.0"));
        assertEquals(4, run(env("FROB"), conf("1.0.0", "")).code());
    }

    @ParameterizedTest
    @ValueSource(strings = {"eth0:1", "a/b", "..", "waytoolongname16", "eth 0"})
    void invalidInterfaceNamesAreCode4(String ifname) throws Exception {
        Map<String, String> env = env("ADD");
        env.put("CNI_IFNAME", ifname);
        assertEquals(4, run(env, conf("1.0.0", "")).code());
    }

    @Test
    void invalidContainerIdIsCode4() throws Exception {
        Map<String, String> env = env("ADD");
        env.put("CNI_CONTAINERID", "-bad id");
        assertEquals(4, run(env, conf("1.0.0", "")).code());
    }

    @Test
    void unknownCniArgsNeedIgnoreUnknown() throws Exception {
        Map<String, String> env = env("ADD");
        env.put("CNI_ARGS", "K8S_POD_NAME=web;FOO=bar");
        Run strict = run(env, conf("1.0.0", ""));
        assertEquals(4, strict.code());
        assertTrue(strict.stdout().contains("FOO"));
        env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web;FOO=bar");
        // Past validation it reaches for node-manager, which is not there: try again later.
        assertEquals(11, run(env, conf("1.0.0", "")).code());
        env.put("CNI_ARGS", "K8S_POD_NAME");
        assertEquals(4, run(env, conf("1.0.0", "")).code());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"cniVersion\":\"1.0.0\",}", "[]", "\"x\"", "{} {}", "null"})
    void undecodableConfigurationIsCode6(String stdin) throws Exception {
        Run run = run(env("ADD"), stdin);
        assertEquals(1, run.status());
        assertEquals(6, run.code(), run.stdout());
    }

    @Test
    void invalidUtf8IsCode6() throws Exception {
        byte[] bad = conf("1.0.0", ",\"x\":\"\u00e9\"").getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(6, run(env("ADD"), bad).code());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"cniVersion\":\"1.0.0\",\"type\":\"wireguard\"}                                  | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"-x\",\"type\":\"wireguard\"}                 | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}                                         | 7",
        "{\"name\":\"n\",\"type\":\"wireguard\"}                                           | 1",
        "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"wireguard\"}                  | 1",
        "{\"cniVersion\":\"2.0.0\",\"name\":\"n\",\"type\":\"wireguard\"}                  | 1",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"wireguard\",\"mtu\":100}      | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"wireguard\",\"mtu\":\"1400\"} | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"wireguard\",\"socket\":\"x\"} | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"wireguard\",\"ifName\":\"a:b\"} | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"wireguard\",\"omitInterface\":1} | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"wireguard\",\"prevResult\":{\"ips\":[{}]}} | 7",
        "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"wireguard\","
            + "\"prevResult\":{\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":3}]}} | 7"})
    void invalidConfigurationIsCode1Or7(String stdin, long code) throws Exception {
        Run run = run(env("ADD"), stdin);
        assertEquals(code, run.code(), run.stdout());
    }

    @Test
    void errorsAreWrittenInTheConfigurationsVersion() throws Exception {
        Map<String, Object> error = run(env("ADD"), conf("0.4.0", "")).json();
        assertEquals("0.4.0", error.get("cniVersion"));
        assertEquals(11L, error.get("code"));
        assertTrue(((String) error.get("msg")).contains(MISSING_SOCKET));
    }

    @Test
    void unreachableNodeManager() throws Exception {
        assertEquals(11, run(env("ADD"), conf("1.1.0", "")).code());
        assertEquals(11, run(env("CHECK"), conf("1.1.0", ",\"prevResult\":{\"interfaces\":[{\"name\":\"eth0\","
                + "\"sandbox\":\"/proc/self/ns/net\"}]}")).code());
        assertEquals(11, run(env("GC"), conf("1.1.0", ",\"cni.dev/valid-attachments\":[]")).code());
        Run status = run(env("STATUS"), conf("1.1.0", ""));
        assertEquals(50, status.code());
        // DEL: the namespace still exists, so something may be left to undo: the runtime must retry.
        assertEquals(11, run(env("DEL"), conf("1.1.0", "")).code());
        // DEL: the namespace is gone: nothing is left in the container; node-manager cleans up on its start.
        Map<String, String> gone = env("DEL");
        gone.put("CNI_NETNS", "/proc/nonexistent/ns/net");
        Run del = run(gone, conf("1.1.0", ""));
        assertEquals(0, del.status());
        assertEquals("", del.stdout());
        assertTrue(del.stderr().contains("node-manager"), del.stderr());
    }

    @Test
    void delFailsWhenTheNamespaceIsGoneButNodeManagerMayStillHoldTheAttachment() throws Exception {
        Map<String, String> gone = env("DEL");
        gone.put("CNI_NETNS", "/proc/nonexistent/ns/net");
        // A relative path proves nothing about the namespace (it resolves against the plugin's working directory).
        Map<String, String> relative = env("DEL");
        relative.put("CNI_NETNS", "no-such-netns-" + ProcessHandle.current().pid());
        assertEquals(11, run(relative, conf("1.1.0", "")).code());
        // Not a path at all (found by CniFuzzTest): an error object, not an exception.
        Map<String, String> nul = env("DEL");
        nul.put("CNI_NETNS", "/proc/s\0lf/ns/net");
        assertEquals(11, run(nul, conf("1.1.0", "")).code());
        // A node-manager that takes the call and drops it (or falls silent) is alive: it may still hold the
        // tunnel, the wg0 peer and the address, so DEL must not report them gone.
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("wgcni-cni-test");
        java.nio.file.Path socket = dir.resolve("cni.sock");
        try (java.nio.channels.ServerSocketChannel server = java.nio.channels.ServerSocketChannel
                .open(java.net.StandardProtocolFamily.UNIX)) {
            server.bind(java.net.UnixDomainSocketAddress.of(socket));
            Thread dropper = Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        server.accept().close();
                    }
                } catch (java.io.IOException e) {
                    // closed by the test
                }
            });
            String dropping = "{\"cniVersion\":\"1.1.0\",\"name\":\"wgnet\",\"type\":\"wireguard\",\"socket\":\""
                    + socket + "\"}";
            Run del = run(gone, dropping);
            assertEquals(11, del.code(), del.stdout());
            assertTrue(del.stdout().contains("dropped the call"), del.stdout());
            server.close();
            dropper.join(5_000);
        } finally {
            java.nio.file.Files.deleteIfExists(socket);
            java.nio.file.Files.deleteIfExists(dir);
        }
    }

    @Test
    void gcAndStatusNeedVersion110() throws Exception {
        assertEquals(1, run(env("GC"), conf("1.0.0", "")).code());
        assertEquals(1, run(env("STATUS"), conf("0.4.0", "")).code());
    }

    @Test
    void checkNeedsPrevResultListingTheInterface() throws Exception {
        assertEquals(7, run(env("CHECK"), conf("1.0.0", "")).code());
        Run run = run(env("CHECK"), conf("1.0.0", ",\"prevResult\":{\"interfaces\":[{\"name\":\"eth1\","
                + "\"sandbox\":\"/proc/self/ns/net\"}]}"));
        assertEquals(CniException.CHECK_FAILED, run.code());
        assertTrue(run.stdout().contains("eth0"), run.stdout());
    }

    // ---- results

    private static final NodeMessages.Attached ATTACHED = new NodeMessages.Attached("eth0", "/var/run/netns/c1",
            List.of("10.100.3.7/24", "fd00:100:0:3::7/64"), List.of("10.100.3.1", ""),
            List.of(new NodeMessages.Route("0.0.0.0/0", "10.100.3.1"), new NodeMessages.Route("::/0", "")),
            1420, "pk");

    private static NetConf parse(String json) throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) Json.parse(json);
        return NetConf.parse(map);
    }

    private static String result(String version, String extra) throws Exception {
        NetConf conf = parse(conf(version, extra));
        return Json.write(Plugin.result(ATTACHED, conf).toJson(conf.cniVersion()));
    }

    @Test
    void standaloneResultInEachVersion() throws Exception {
        assertEquals("{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/c1\"}],"
                + "\"ips\":[{\"version\":\"4\",\"address\":\"10.100.3.7/24\",\"gateway\":\"10.100.3.1\","
                + "\"interface\":0},"
                + "{\"version\":\"6\",\"address\":\"fd00:100:0:3::7/64\",\"interface\":0}],"
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.100.3.1\"},{\"dst\":\"::/0\"}]}",
                result("0.4.0", ""));
        assertEquals("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/c1\"}],"
                + "\"ips\":[{\"address\":\"10.100.3.7/24\",\"gateway\":\"10.100.3.1\",\"interface\":0},"
                + "{\"address\":\"fd00:100:0:3::7/64\",\"interface\":0}],"
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.100.3.1\"},{\"dst\":\"::/0\"}],"
                + "\"dns\":{\"nameservers\":[\"10.100.3.1\"],\"search\":[\"svc\"]}}",
                result("1.0.0", ",\"dns\":{\"nameservers\":[\"10.100.3.1\"],\"search\":[\"svc\"]}"));
        assertEquals("{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\",\"mtu\":1420,"
                + "\"sandbox\":\"/var/run/netns/c1\"}],"
                + "\"ips\":[{\"address\":\"10.100.3.7/24\",\"gateway\":\"10.100.3.1\",\"interface\":0},"
                + "{\"address\":\"fd00:100:0:3::7/64\",\"interface\":0}],"
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.100.3.1\"},{\"dst\":\"::/0\"}]}",
                result("1.1.0", ""));
    }

    @Test
    void omitInterfaceLeavesOnlyAddressesAndRoutes() throws Exception {
        assertEquals("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.100.3.7/24\",\"gateway\":\"10.100.3.1\"},"
                + "{\"address\":\"fd00:100:0:3::7/64\"}],"
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.100.3.1\"},{\"dst\":\"::/0\"}]}",
                result("1.0.0", ",\"omitInterface\":true"));
    }

    @Test
    void chainedResultAppendsOurInterfaceAndReplacesTheDefaultRoute() throws Exception {
        // bridge + host-local's 0.4.0 result, as podman passes it on.
        String prev = ",\"prevResult\":{\"cniVersion\":\"0.4.0\",\"interfaces\":["
                + "{\"name\":\"cni0\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"
                + "{\"name\":\"veth1\",\"mac\":\"aa:bb:cc:dd:ee:02\"},"
                + "{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:03\",\"sandbox\":\"/var/run/netns/c1\"}],"
                + "\"ips\":[{\"version\":\"4\",\"address\":\"10.88.0.5/16\",\"gateway\":\"10.88.0.1\","
                + "\"interface\":2}],"
                + "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"10.0.0.0/8\",\"gw\":\"10.88.0.1\"}],"
                + "\"dns\":{\"nameservers\":[\"10.88.0.1\"]}}";
        NetConf conf = parse(conf("0.4.0", ",\"ifName\":\"wg0\"" + prev));
        NodeMessages.Attached wg0 = new NodeMessages.Attached("wg0", "/var/run/netns/c1", List.of("10.100.3.7/24"),
                List.of(""), List.of(new NodeMessages.Route("0.0.0.0/0", "")), 0, "pk");
        assertEquals("{\"cniVersion\":\"0.4.0\",\"interfaces\":["
                + "{\"name\":\"cni0\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"
                + "{\"name\":\"veth1\",\"mac\":\"aa:bb:cc:dd:ee:02\"},"
                + "{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:03\",\"sandbox\":\"/var/run/netns/c1\"},"
                + "{\"name\":\"wg0\",\"sandbox\":\"/var/run/netns/c1\"}],"
                + "\"ips\":[{\"version\":\"4\",\"address\":\"10.88.0.5/16\",\"gateway\":\"10.88.0.1\",\"interface\":2},"
                + "{\"version\":\"4\",\"address\":\"10.100.3.7/24\",\"interface\":3}],"
                + "\"routes\":[{\"dst\":\"10.0.0.0/8\",\"gw\":\"10.88.0.1\"},{\"dst\":\"0.0.0.0/0\"}],"
                + "\"dns\":{\"nameservers\":[\"10.88.0.1\"]}}",
                Json.write(Plugin.result(wg0, conf).toJson(conf.cniVersion())));
        assertEquals("wg0", conf.interfaceName("eth0"));
    }

    @Test
    void resultsConvertBetweenVersions() throws Exception {
        // A 1.1.0 prevResult written as 1.0.0 loses 1.1.0's fields, and as 0.4.0 gains the address versions.
        NetConf conf = parse(conf("1.1.0", ",\"prevResult\":{\"interfaces\":[{\"name\":\"eth0\",\"mtu\":1500,"
                + "\"socketPath\":\"/s\",\"pciID\":\"0000:00:01.0\"}],\"ips\":[{\"address\":\"fd00::5/64\"}],"
                + "\"routes\":[{\"dst\":\"fd01::/64\",\"mtu\":1400,\"advmss\":1300,\"priority\":5,\"table\":100,"
                + "\"scope\":\"link\"}]}"));
        Result prev = conf.prevResult();
        assertEquals("{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\",\"mtu\":1500,\"socketPath\":\"/s\","
                + "\"pciID\":\"0000:00:01.0\"}],\"ips\":[{\"address\":\"fd00::5/64\"}],\"routes\":[{\"dst\":"
                + "\"fd01::/64\",\"mtu\":1400,\"advmss\":1300,\"priority\":5,\"table\":100,\"scope\":\"link\"}]}",
                Json.write(prev.toJson("1.1.0")));
        assertEquals("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\"}],\"ips\":[{\"address\":"
                + "\"fd00::5/64\"}],\"routes\":[{\"dst\":\"fd01::/64\"}]}", Json.write(prev.toJson("1.0.0")));
        assertEquals("{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\"}],\"ips\":[{\"version\":\"6\","
                + "\"address\":\"fd00::5/64\"}],\"routes\":[{\"dst\":\"fd01::/64\"}]}",
                Json.write(prev.toJson("0.4.0")));
    }

    @Test
    void gcReadsValidAttachmentsUnderEitherName() throws Exception {
        NetConf conf = parse(conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\",\"ifname\":"
                + "\"eth0\"},{\"containerID\":\"b\",\"ifname\":\"net1\"}]"));
        assertEquals(List.of(new NetConf.Attachment("a", "eth0"), new NetConf.Attachment("b", "net1")),
                conf.validAttachments());
        conf = parse(conf("1.1.0", ",\"cni.dev/attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]"));
        assertEquals(List.of(new NetConf.Attachment("a", "eth0")), conf.validAttachments());
        assertEquals(7, run(env("GC"), conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"ifname\":\"eth0\"}]"))
                .code());
        Run missing = run(env("GC"), conf("1.1.0", ""));
        assertEquals(7, missing.code(), "an absent list is not an empty one");
        assertTrue(missing.stdout().contains("cni.dev/valid-attachments"));
    }

    @ParameterizedTest
    @CsvSource({"3, 7", "5, 3", "6, 101", "8, 102", "9, 103", "14, 11", "4, 11", "13, 100", "2, 100"})
    void nodeManagerCodesMapToCniCodes(int grpc, int cni) {
        CniException e = Plugin.map(new NodeMessages.Failed(grpc, "m"));
        assertEquals(cni, e.code());
        assertEquals("m", e.getMessage());
    }
}
