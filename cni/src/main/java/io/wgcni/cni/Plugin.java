package io.wgcni.cni;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The plugin: one CNI command per process. Validates the environment and the configuration, asks node-manager,
 * and prints the result (ADD), nothing (DEL, CHECK, GC, STATUS), the supported versions (VERSION) or the error
 * object, always on stdout; logs go to stderr only.
 */
public final class Plugin {
    private final PrintStream out;
    private final PrintStream err;
    /** The version error objects are written in: the configuration's when it names a supported one. */
    private String errorVersion = Result.V110;

    private Plugin(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Runs one command; returns the process's exit status. */
    public static int run(Map<String, String> env, InputStream stdin, PrintStream out, PrintStream err) {
        Plugin plugin = new Plugin(out, err);
        try {
            plugin.dispatch(env, stdin);
            return 0;
        } catch (CniException e) {
            out.println(Json.write(e.toJson(plugin.errorVersion)));
            err.println("wireguard: " + env.getOrDefault("CNI_COMMAND", "") + " failed: " + e.getMessage()
                    + (e.details().isEmpty() ? "" : " (" + e.details() + ")"));
            return 1;
        }
    }

    private void dispatch(Map<String, String> env, InputStream stdin) throws CniException {
        if (env.getOrDefault("CNI_COMMAND", "").isEmpty()) {
            err.println("CNI plugin wireguard (wgcni); CNI protocol versions supported: "
                    + String.join(", ", Result.SUPPORTED_VERSIONS));
        } else {
            // Read first, so that even an environment error is reported in the configuration's version.
            byte[] input = read(stdin);
            Map<String, Object> json = null;
            try {
                json = NetConf.decode(input);
                String version = NetConf.versionOf(json);
                if (version != null && Result.SUPPORTED_VERSIONS.contains(version)) {
                    errorVersion = version;
                }
            } catch (CniException decodeError) {
                // reported below, after the environment, in the reference plugins' order
            }
            Invocation invocation = Invocation.fromEnvironment(env);
            if (invocation.command().equals("VERSION")) {
                version(json);
                return;
            }
            if (json == null) {
                NetConf.decode(input); // throws the decoding error again
            }
            NetConf conf = NetConf.parse(json);
            switch (invocation.command()) {
                case "ADD" -> add(invocation, conf);
                case "DEL" -> del(invocation, conf);
                case "CHECK" -> check(invocation, conf);
                case "GC" -> gc(conf);
                case "STATUS" -> status(conf);
                default -> throw new IllegalStateException(invocation.command());
            }
            return;
        }
        Invocation.fromEnvironment(env); // throws: CNI_COMMAND is missing
    }

    private static byte[] read(InputStream stdin) throws CniException {
        try {
            return stdin.readAllBytes();
        } catch (IOException e) {
            throw new CniException(CniException.IO_FAILURE, "error reading from stdin: " + e.getMessage());
        }
    }

    /** The requested version when supported (podman asks with {"cniVersion":"1.0.0"}), else our newest. */
    private void version(Map<String, Object> json) {
        String requested = json == null ? null : NetConf.versionOf(json);
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("cniVersion", requested != null && Result.SUPPORTED_VERSIONS.contains(requested)
                ? requested : Result.V110);
        info.put("supportedVersions", Result.SUPPORTED_VERSIONS);
        out.println(Json.write(info));
    }

    private void add(Invocation invocation, NetConf conf) throws CniException {
        boolean chained = conf.prevResult() != null;
        byte[] request = NodeMessages.request(new NodeMessages.Attach(invocation.containerId(), invocation.netns(),
                conf.interfaceName(invocation.ifname()), conf.name(), conf.mtu(), chained, invocation.args()));
        NodeMessages.Response response;
        try {
            response = call(conf, request, CniException.TRY_AGAIN_LATER);
        } catch (CniException e) {
            if (e.code() == CniException.INTERFACE_EXISTS && chained && conf.ifName() == null) {
                throw new CniException(e.code(), e.getMessage(), "chained after a plugin that created "
                        + invocation.ifname() + ": give this plugin an interface of its own with \"ifName\"");
            }
            throw e;
        }
        if (!(response instanceof NodeMessages.Attached attached)) {
            throw unexpected();
        }
        out.println(Json.write(result(attached, conf).toJson(conf.cniVersion())));
    }

    /**
     * ADD's result: alone, our interface, addresses and routes; chained, the previous result with our interface
     * appended, our addresses pointing at it, and its default routes replaced by ours (node-manager moved them).
     */
    static Result result(NodeMessages.Attached attach, NetConf conf) {
        Result prev = conf.prevResult();
        List<Result.Interface> interfaces = new ArrayList<>(prev == null ? List.of() : prev.interfaces());
        List<Result.IpConfig> ips = new ArrayList<>(prev == null ? List.of() : prev.ips());
        List<Result.Route> routes = new ArrayList<>();
        Long index = null;
        if (!conf.omitInterface()) {
            index = (long) interfaces.size();
            // A TUN has no hardware address: no mac, honestly (the specification makes it optional).
            interfaces.add(new Result.Interface(attach.ifname(), null,
                    attach.mtu() == 0 ? null : (long) attach.mtu(), attach.sandbox(), null, null));
        }
        for (int i = 0; i < attach.addresses().size(); i++) {
            String gateway = i < attach.gateways().size() ? attach.gateways().get(i) : "";
            ips.add(new Result.IpConfig(attach.addresses().get(i), gateway.isEmpty() ? null : gateway, index));
        }
        List<Result.Route> ours = new ArrayList<>();
        for (NodeMessages.Route route : attach.routes()) {
            ours.add(Result.Route.of(route.dst(), route.gw().isEmpty() ? null : route.gw()));
        }
        if (prev != null) {
            for (Result.Route route : prev.routes()) {
                boolean replaced = route.isDefault()
                        && ours.stream().anyMatch(r -> r.isDefault() && r.dst().equals(route.dst()));
                if (!replaced) {
                    routes.add(route);
                }
            }
        }
        routes.addAll(ours);
        Result.Dns dns = conf.dns() != null && !conf.dns().isEmpty() ? conf.dns() : prev == null ? null : prev.dns();
        return new Result(interfaces, ips, routes, dns);
    }

    private void del(Invocation invocation, NetConf conf) throws CniException {
        byte[] request = NodeMessages.request(new NodeMessages.Detach(invocation.containerId(), invocation.netns(),
                conf.interfaceName(invocation.ifname())));
        NodeMessages.Response response;
        try {
            response = new NodeClient(conf.socket()).call(request);
        } catch (NodeClient.UnreachableException e) {
            // Success only when the attachment is provably going: node-manager is not running (it has not seen
            // the call, and on start, and every minute after, drops every attachment whose namespace is gone) and
            // the namespace is gone. A node-manager that accepted the call and fell silent may still hold the
            // tunnel, the wg0 peer and the address: the runtime must retry.
            if (e.notRunning() && namespaceGone(invocation.netns())) {
                err.println("wireguard: DEL " + invocation.containerId() + ": " + e.getMessage()
                        + "; the namespace is gone, node-manager will release the attachment when it starts");
                return;
            }
            throw new CniException(CniException.TRY_AGAIN_LATER, e.getMessage());
        }
        if (response instanceof NodeMessages.Failed failed && failed.code() != GrpcCode.NOT_FOUND) {
            throw map(failed);
        }
        if (!(response instanceof NodeMessages.Detached || response instanceof NodeMessages.Failed)) {
            throw unexpected();
        }
    }

    /**
     * Empty (the runtime no longer knows it) or an absolute path that no longer exists. A relative path proves
     * nothing: it would be looked up from wherever the plugin happens to run.
     */
    static boolean namespaceGone(String netns) {
        if (netns.isEmpty()) {
            return true;
        }
        try {
            Path path = Path.of(netns);
            return path.isAbsolute() && !Files.exists(path);
        } catch (java.nio.file.InvalidPathException e) {
            return false; // not a path at all (a NUL in it): proves nothing either
        }
    }

    private void check(Invocation invocation, NetConf conf) throws CniException {
        Result prev = conf.prevResult();
        if (prev == null) {
            throw new CniException(CniException.INVALID_NETWORK_CONFIG, "CHECK needs prevResult, the result of ADD");
        }
        String ifname = conf.interfaceName(invocation.ifname());
        Long index = null;
        if (!conf.omitInterface()) {
            for (int i = 0; i < prev.interfaces().size(); i++) {
                Result.Interface candidate = prev.interfaces().get(i);
                if (candidate.name().equals(ifname) && invocation.netns().equals(candidate.sandbox())) {
                    index = (long) i;
                }
            }
            if (index == null) {
                throw new CniException(CniException.CHECK_FAILED, "prevResult lists no interface " + ifname
                        + " in " + invocation.netns());
            }
        }
        List<String> expected = new ArrayList<>();
        for (Result.IpConfig ip : prev.ips()) {
            if (Objects.equals(ip.iface(), index)) {
                expected.add(ip.address());
            }
        }
        byte[] request = NodeMessages.request(new NodeMessages.Check(invocation.containerId(), invocation.netns(),
                ifname, expected, conf.name()));
        if (!(call(conf, request, CniException.TRY_AGAIN_LATER) instanceof NodeMessages.Checked)) {
            throw unexpected();
        }
    }

    private void gc(NetConf conf) throws CniException {
        requireVersion110(conf, "GC");
        if (conf.validAttachments() == null) {
            // An absent list is not an empty one: releasing every attachment of the network on a typo is too much.
            throw new CniException(CniException.INVALID_NETWORK_CONFIG, "GC needs cni.dev/valid-attachments");
        }
        List<NodeMessages.Ref> valid = new ArrayList<>();
        for (NetConf.Attachment attachment : conf.validAttachments()) {
            valid.add(new NodeMessages.Ref(attachment.containerId(), conf.interfaceName(attachment.ifname())));
        }
        byte[] request = NodeMessages.request(new NodeMessages.GarbageCollect(conf.name(), valid));
        if (!(call(conf, request, CniException.TRY_AGAIN_LATER) instanceof NodeMessages.Collected collected)) {
            throw unexpected();
        }
        for (NodeMessages.Ref released : collected.released()) {
            err.println("wireguard: GC released " + released.containerId() + "/" + released.ifname());
        }
    }

    private void status(NetConf conf) throws CniException {
        requireVersion110(conf, "STATUS");
        NodeMessages.Response response;
        try {
            response = new NodeClient(conf.socket()).call(NodeMessages.statusRequest());
        } catch (NodeClient.UnreachableException e) {
            throw new CniException(CniException.NOT_AVAILABLE, e.getMessage());
        }
        if (response instanceof NodeMessages.Failed failed) {
            throw new CniException(CniException.NOT_AVAILABLE, failed.message(),
                    "node-manager: " + GrpcCode.name(failed.code()));
        }
        if (!(response instanceof NodeMessages.Status status)) {
            throw unexpected();
        }
        if (!status.ready()) {
            throw new CniException(CniException.NOT_AVAILABLE, "node-manager is not ready: " + status.message());
        }
    }

    private static void requireVersion110(NetConf conf, String command) throws CniException {
        if (!conf.atLeast110()) {
            throw new CniException(CniException.INCOMPATIBLE_VERSION, "config version does not allow " + command,
                    "config is \"" + conf.cniVersion() + "\", " + command + " needs 1.1.0");
        }
    }

    /** Calls node-manager; unreachable becomes {@code unreachableCode}, an error answer its CNI code. */
    private static NodeMessages.Response call(NetConf conf, byte[] request, int unreachableCode)
            throws CniException {
        NodeMessages.Response response;
        try {
            response = new NodeClient(conf.socket()).call(request);
        } catch (NodeClient.UnreachableException e) {
            throw new CniException(unreachableCode, e.getMessage());
        }
        if (response instanceof NodeMessages.Failed failed) {
            throw map(failed);
        }
        return response;
    }

    /** node-manager's gRPC status codes as CNI error codes (README, "Error codes"). */
    static CniException map(NodeMessages.Failed error) {
        int code = switch (error.code()) {
            case GrpcCode.INVALID_ARGUMENT -> CniException.INVALID_NETWORK_CONFIG;
            case GrpcCode.NOT_FOUND -> CniException.UNKNOWN_CONTAINER;
            case GrpcCode.ALREADY_EXISTS -> CniException.INTERFACE_EXISTS;
            case GrpcCode.RESOURCE_EXHAUSTED -> CniException.ADDRESSES_EXHAUSTED;
            case GrpcCode.FAILED_PRECONDITION -> CniException.CHECK_FAILED;
            case GrpcCode.UNAVAILABLE, GrpcCode.DEADLINE_EXCEEDED, GrpcCode.ABORTED -> CniException.TRY_AGAIN_LATER;
            default -> CniException.NODE_MANAGER_FAILED;
        };
        return new CniException(code, error.message(), "node-manager: " + GrpcCode.name(error.code()));
    }

    private static CniException unexpected() {
        return new CniException(CniException.NODE_MANAGER_FAILED,
                "node-manager answered this call with the result of another");
    }

    /** The gRPC status code numbers node-manager sends in CniError (without loading grpc-api). */
    static final class GrpcCode {
        static final int DEADLINE_EXCEEDED = 4;
        static final int INVALID_ARGUMENT = 3;
        static final int NOT_FOUND = 5;
        static final int ALREADY_EXISTS = 6;
        static final int RESOURCE_EXHAUSTED = 8;
        static final int FAILED_PRECONDITION = 9;
        static final int ABORTED = 10;
        static final int UNAVAILABLE = 14;

        private static final String[] NAMES = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
            "DATA_LOSS", "UNAUTHENTICATED"};

        private GrpcCode() {}

        static String name(int code) {
            return (code >= 0 && code < NAMES.length ? NAMES[code] : "code") + " (" + code + ")";
        }
    }
}
