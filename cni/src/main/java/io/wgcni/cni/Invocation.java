package io.wgcni.cni;

import io.wgcni.api.node.Names;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The CNI_* environment of one call, validated as the reference plugins' skel does: the variables each command
 * requires, the container ID's and the interface name's syntax, and CNI_ARGS.
 */
public record Invocation(
        String command, String containerId, String netns, String ifname, Map<String, String> args, String path) {

    public static final List<String> COMMANDS = List.of("ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION");

    /** CNI_ARGS keys this plugin knows (passed to node-manager for the record); others need IgnoreUnknown. */
    private static final Set<String> KNOWN_ARGS = Set.of(
            "IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID");

    public static Invocation fromEnvironment(Map<String, String> env) throws CniException {
        String command = env.getOrDefault("CNI_COMMAND", "");
        if (command.isEmpty()) {
            throw new CniException(CniException.INVALID_ENVIRONMENT, "required env variables [CNI_COMMAND] missing");
        }
        if (!COMMANDS.contains(command)) {
            throw new CniException(CniException.INVALID_ENVIRONMENT, "unknown CNI_COMMAND: " + command);
        }
        boolean attachment = command.equals("ADD") || command.equals("DEL") || command.equals("CHECK");
        StringBuilder missing = new StringBuilder();
        require(env, "CNI_CONTAINERID", attachment, missing);
        // DEL may come without a namespace: the container may be gone already.
        require(env, "CNI_NETNS", command.equals("ADD") || command.equals("CHECK"), missing);
        require(env, "CNI_IFNAME", attachment, missing);
        require(env, "CNI_PATH", !command.equals("VERSION"), missing);
        if (!missing.isEmpty()) {
            throw new CniException(CniException.INVALID_ENVIRONMENT,
                    "required env variables [" + missing + "] missing");
        }
        Invocation invocation = new Invocation(command, env.getOrDefault("CNI_CONTAINERID", ""),
                env.getOrDefault("CNI_NETNS", ""), env.getOrDefault("CNI_IFNAME", ""),
                parseArgs(env.getOrDefault("CNI_ARGS", "")), env.getOrDefault("CNI_PATH", ""));
        if (attachment) {
            validateContainerId(invocation.containerId);
            validateInterfaceName(invocation.ifname, "CNI_IFNAME", CniException.INVALID_ENVIRONMENT);
        }
        return invocation;
    }

    private static void require(Map<String, String> env, String name, boolean required, StringBuilder missing) {
        if (required && env.getOrDefault(name, "").isEmpty()) {
            missing.append(missing.isEmpty() ? "" : ",").append(name);
        }
    }

    /** {@code K=V;K2=V2}; unknown keys are an error unless {@code IgnoreUnknown} is 1 or true (as in libcni). */
    static Map<String, String> parseArgs(String text) throws CniException {
        Map<String, String> args = new LinkedHashMap<>();
        if (text.isEmpty()) {
            return args;
        }
        for (String pair : text.split(";", -1)) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new CniException(CniException.INVALID_ENVIRONMENT,
                        "CNI_ARGS: invalid pair \"" + pair + "\", expected KEY=VALUE");
            }
            args.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        String ignore = args.getOrDefault("IgnoreUnknown", "");
        boolean ignoreUnknown = ignore.equals("1") || ignore.equalsIgnoreCase("true");
        if (!ignoreUnknown) {
            for (String key : args.keySet()) {
                if (!KNOWN_ARGS.contains(key)) {
                    throw new CniException(CniException.INVALID_ENVIRONMENT,
                            "CNI_ARGS: unknown key \"" + key + "\" (add IgnoreUnknown=1 to allow it)");
                }
            }
        }
        return args;
    }

    static void validateContainerId(String id) throws CniException {
        String problem = Names.containerIdProblem(id);
        if (problem != null) {
            throw new CniException(CniException.INVALID_ENVIRONMENT, "CNI_CONTAINERID " + problem, id);
        }
    }

    /** Linux's rules for a link name (dev_valid_name), as the reference plugins check them. */
    static void validateInterfaceName(String name, String field, int code) throws CniException {
        String problem = Names.interfaceNameProblem(name);
        if (problem != null) {
            throw new CniException(code, field + " \"" + name + "\" " + problem);
        }
    }
}
