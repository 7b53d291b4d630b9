package io.wgcni.api.node;

/**
 * What a container ID and an interface name may be, checked by the plugin (as CNI error 4 or 7) and by
 * node-manager (as INVALID_ARGUMENT, for every client of the node API) with this one rule. The JDK only: the
 * plugin loads it.
 */
public final class Names {
    /** node-manager stores the ID; the CNI spec sets no bound, runtimes use 64 hex digits. */
    public static final int MAX_CONTAINER_ID = 256;
    /** IFNAMSIZ less the terminating zero. */
    public static final int MAX_INTERFACE_NAME = 15;

    private Names() {}

    /**
     * The CNI spec's rule for CNI_CONTAINERID ({@code ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$}), at most {@link
     * #MAX_CONTAINER_ID} characters: null when {@code id} follows it, else what is wrong.
     */
    public static String containerIdProblem(String id) {
        if (id.isEmpty()) {
            return "is empty";
        }
        if (id.length() > MAX_CONTAINER_ID) {
            return "is longer than " + MAX_CONTAINER_ID + " characters";
        }
        if (!alphanumeric(id.charAt(0))) {
            return "does not start with a letter or a digit";
        }
        for (int i = 1; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!alphanumeric(c) && c != '_' && c != '.' && c != '-') {
                return "contains an invalid character (letters, digits, '_', '.' and '-' only)";
            }
        }
        return null;
    }

    /**
     * The kernel's rule for a link name (dev_valid_name), as the reference plugins check it: 1 to 15 characters,
     * not "." or "..", no '/', ':' or whitespace; printable ASCII here. Null when {@code name} follows it.
     */
    public static String interfaceNameProblem(String name) {
        if (name.isEmpty()) {
            return "is empty";
        }
        if (name.length() > MAX_INTERFACE_NAME) {
            return "is longer than " + MAX_INTERFACE_NAME + " characters";
        }
        if (name.equals(".") || name.equals("..")) {
            return "is . or ..";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':') {
                return "contains an invalid character";
            }
        }
        return null;
    }

    private static boolean alphanumeric(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
}
