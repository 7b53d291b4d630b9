package io.wgcni.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvironmentTest {
    @Test
    void aLongOptionIsItsNameInUpperSnakeCase() {
        assertEquals("WGCNI_CLUSTER", Environment.variable("--cluster"));
        assertEquals("WGCNI_JOIN_TOKEN_FILE", Environment.variable("--join-token-file"));
        assertEquals("WGCNI_CLUSTER_CIDR_V6", Environment.variable("--cluster-cidr-v6"));
    }

    @Test
    void onlyLongOptionsHaveOne() {
        assertThrows(IllegalArgumentException.class, () -> Environment.variable("-h"));
        assertThrows(IllegalArgumentException.class, () -> Environment.variable("--"));
        assertThrows(IllegalArgumentException.class, () -> Environment.variable("cluster"));
    }

    @Test
    void anUnsetVariableIsNull() {
        Map<String, String> env = Map.of("WGCNI_MTU", "1400");
        assertEquals("1400", Environment.value(env, "--mtu"));
        assertNull(Environment.value(env, "--data-dir"));
        assertNull(Environment.value(Map.of("WGCNI_V", "1"), "-V"));
    }
}
