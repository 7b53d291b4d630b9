package io.wgcni.cni;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A failure reported to the runtime as the specification's error object on stdout: well-known codes below 100,
 * this plugin's own from 100 (README, "Error codes").
 */
public final class CniException extends Exception {
    private static final long serialVersionUID = 1L;

    public static final int INCOMPATIBLE_VERSION = 1;
    public static final int UNSUPPORTED_FIELD = 2;
    public static final int UNKNOWN_CONTAINER = 3;
    public static final int INVALID_ENVIRONMENT = 4;
    public static final int IO_FAILURE = 5;
    public static final int DECODING_FAILURE = 6;
    public static final int INVALID_NETWORK_CONFIG = 7;
    public static final int TRY_AGAIN_LATER = 11;
    public static final int NOT_AVAILABLE = 50;
    public static final int NOT_AVAILABLE_LIMITED_CONNECTIVITY = 51;
    /** node-manager failed in a way the specification has no code for. */
    public static final int NODE_MANAGER_FAILED = 100;
    /** ADD: the interface already exists in the container. */
    public static final int INTERFACE_EXISTS = 101;
    /** ADD: the node's address pool is exhausted. */
    public static final int ADDRESSES_EXHAUSTED = 102;
    /** CHECK: the interface, an address, a route or the tunnel is not as ADD left it. */
    public static final int CHECK_FAILED = 103;

    private final int code;
    private final String details;

    public CniException(int code, String msg) {
        this(code, msg, "");
    }

    public CniException(int code, String msg, String details) {
        super(msg);
        this.code = code;
        this.details = details;
    }

    public int code() {
        return code;
    }

    public String details() {
        return details;
    }

    /** The error object of the specification, in {@code cniVersion}. */
    public Map<String, Object> toJson(String cniVersion) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("cniVersion", cniVersion);
        error.put("code", (long) code);
        error.put("msg", getMessage());
        if (!details.isEmpty()) {
            error.put("details", details);
        }
        return error;
    }
}
