package io.wgcni.cni;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The network configuration on stdin. Every setting comes from here, never from the environment: a runtime may
 * run DEL with an almost empty one. Unknown keys are ignored, as the specification allows.
 *
 * @param socket node-manager's CNI socket
 * @param mtu the container interface's MTU, 0 for the node's default
 * @param ifName the name of the WireGuard interface when it is not CNI_IFNAME (chained after a plugin that
 *     already created CNI_IFNAME), or null
 * @param omitInterface leave the interface out of results: its TUN has no MAC address, and podman 4.3 refuses a
 *     sandbox interface without one but accepts a result with only addresses
 * @param prevResult the previous plugin's result (chained), or null
 * @param dns the {@code dns} section, returned in ADD's result, or null
 * @param validAttachments GC's {@code cni.dev/valid-attachments}, or null when absent
 */
public record NetConf(
        String cniVersion,
        String name,
        String type,
        String socket,
        int mtu,
        String ifName,
        boolean omitInterface,
        Result prevResult,
        Result.Dns dns,
        List<Attachment> validAttachments) {

    public static final String DEFAULT_SOCKET = "/run/wgcni/cni.sock";

    private static final Pattern NETWORK_NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.\\-]*");

    public record Attachment(String containerId, String ifname) {}

    /** Decodes stdin (strict UTF-8) into a JSON object; code 6 when that fails. */
    static Map<String, Object> decode(byte[] stdin) throws CniException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(stdin)).toString();
        } catch (CharacterCodingException e) {
            throw new CniException(CniException.DECODING_FAILURE, "network configuration is not valid UTF-8");
        }
        Object json;
        try {
            json = Json.parse(text);
        } catch (Json.ParseException e) {
            throw new CniException(CniException.DECODING_FAILURE,
                    "error decoding network configuration: " + e.getMessage());
        }
        if (!(json instanceof Map)) {
            throw new CniException(CniException.DECODING_FAILURE, "network configuration must be a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> object = (Map<String, Object>) json;
        return object;
    }

    /** The configuration's cniVersion if it is a string, else null: for VERSION and for error objects. */
    static String versionOf(Map<String, Object> json) {
        return json.get("cniVersion") instanceof String s ? s : null;
    }

    /** Parses and validates in the reference plugins' order: name (7), then version (1), then our own keys (7). */
    public static NetConf parse(Map<String, Object> json) throws CniException {
        Result.Fields f = new Result.Fields(json, "config");
        String name = f.string("name");
        if (name == null || name.isEmpty()) {
            throw new CniException(CniException.INVALID_NETWORK_CONFIG, "missing network name");
        }
        if (!NETWORK_NAME.matcher(name).matches()) {
            throw new CniException(CniException.INVALID_NETWORK_CONFIG, "invalid characters found in network name",
                    name);
        }
        String version = f.string("cniVersion");
        if (version == null || version.isEmpty()) {
            // Go's decoder takes a missing version as 0.1.0, which nothing here supports.
            throw new CniException(CniException.INCOMPATIBLE_VERSION, "incompatible CNI versions",
                    "config has no cniVersion (taken as 0.1.0); plugin supports " + Result.SUPPORTED_VERSIONS);
        }
        if (!Result.SUPPORTED_VERSIONS.contains(version)) {
            throw new CniException(CniException.INCOMPATIBLE_VERSION, "incompatible CNI versions",
                    "config is \"" + version + "\", plugin supports " + Result.SUPPORTED_VERSIONS);
        }
        String type = f.string("type");
        if (type == null || type.isEmpty()) {
            throw new CniException(CniException.INVALID_NETWORK_CONFIG, "missing type");
        }

        String socket = f.string("socket");
        if (socket == null) {
            socket = DEFAULT_SOCKET;
        } else if (!socket.startsWith("/")) {
            throw f.invalid("socket", "must be an absolute path, got \"" + socket + "\"");
        }
        Long mtu = f.number("mtu");
        if (mtu != null && (mtu < 576 || mtu > 65535)) {
            throw f.invalid("mtu", "must be between 576 and 65535, got " + mtu);
        }
        String ifName = f.string("ifName");
        if (ifName != null) {
            Invocation.validateInterfaceName(ifName, "config.ifName", CniException.INVALID_NETWORK_CONFIG);
        }
        Boolean omit = f.bool("omitInterface");

        Map<String, Object> prev = f.object("prevResult");
        Map<String, Object> dns = f.object("dns");
        return new NetConf(version, name, type, socket, mtu == null ? 0 : mtu.intValue(), ifName,
                omit != null && omit, prev == null ? null : Result.fromJson(prev, "prevResult"),
                dns == null ? null : Result.Dns.fromJson(dns, "config.dns"), attachments(f));
    }

    /**
     * libcni sends the list under both names (an early 1.1.0 draft said cni.dev/attachments); null when neither
     * is there, which GC refuses rather than take as "nothing is valid".
     */
    private static List<Attachment> attachments(Result.Fields f) throws CniException {
        String key = f.has("cni.dev/valid-attachments") ? "cni.dev/valid-attachments" : "cni.dev/attachments";
        if (!f.has(key)) {
            return null;
        }
        List<Attachment> out = new ArrayList<>();
        List<Map<String, Object>> list = f.objects(key);
        for (int n = 0; n < list.size(); n++) {
            Result.Fields a = new Result.Fields(list.get(n), "config." + key + "[" + n + "]");
            out.add(new Attachment(a.requiredString("containerID"), a.requiredString("ifname")));
        }
        return out;
    }

    /** The WireGuard interface's name for a call with this CNI_IFNAME. */
    public String interfaceName(String cniIfname) {
        return ifName != null ? ifName : cniIfname;
    }

    /** Whether 1.1.0's GC and STATUS may be called with this configuration. */
    boolean atLeast110() {
        return cniVersion.equals(Result.V110);
    }
}
