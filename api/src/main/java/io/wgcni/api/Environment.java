package io.wgcni.api;

import java.util.Locale;
import java.util.Map;

/**
 * The one rule by which the daemons read settings from the environment: the option {@code --cluster-cidr} of
 * {@code cluster-manager} or {@code node-manager} is also {@code WGCNI_CLUSTER_CIDR}, of every command. A flag on the
 * command line wins over the variable, and the variable over the option's default. This is what systemd's
 * {@code EnvironmentFile=} and a container's {@code env:} give most easily, as {@code etcd}'s {@code ETCD_*} do.
 */
public final class Environment {
    public static final String PREFIX = "WGCNI_";

    private Environment() {}

    /** {@code --join-token-file} is {@code WGCNI_JOIN_TOKEN_FILE}. */
    public static String variable(String longOption) {
        if (!longOption.startsWith("--") || longOption.length() == 2) {
            throw new IllegalArgumentException("not a long option: " + longOption);
        }
        return PREFIX + longOption.substring(2).replace('-', '_').toUpperCase(Locale.ROOT);
    }

    /** The value of {@code option}'s variable in {@code env}; null when it is unset or {@code option} is short. */
    public static String value(Map<String, String> env, String option) {
        return option.startsWith("--") && option.length() > 2 ? env.get(variable(option)) : null;
    }
}
