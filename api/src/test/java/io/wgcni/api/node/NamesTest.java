package io.wgcni.api.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The one rule the plugin and node-manager hold container IDs and interface names to. */
class NamesTest {
    @ParameterizedTest
    @ValueSource(strings = {"a", "0", "ctr1", "a.b-c_d", "Z9", "a--", "x.."})
    void containerIdsTheCniSpecAllows(String id) {
        assertNull(Names.containerIdProblem(id));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-a", ".a", "_a", "a b", "a/b", "a:b", "a\nb", "é", "a\u0000", "a+b", "a%b"})
    void containerIdsTheCniSpecRefuses(String id) {
        assertNotNull(Names.containerIdProblem(id), id);
    }

    @Test
    void containerIdsAreBoundedAt256WhichARuntimesHexIdIsWellWithin() {
        assertNull(Names.containerIdProblem("3f".repeat(32)));
        assertNull(Names.containerIdProblem("a".repeat(Names.MAX_CONTAINER_ID)));
        assertEquals("is longer than 256 characters", Names.containerIdProblem("a".repeat(257)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"eth0", "net1", "a", "...", "wg-0_x.y", "abcdefghijklmno", "a!b"})
    void interfaceNamesTheKernelTakes(String name) {
        assertNull(Names.interfaceNameProblem(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ".", "..", "abcdefghijklmnop", "a/b", "a:b", "a b", "a\tb", "é", "a\u007f"})
    void interfaceNamesTheKernelRefuses(String name) {
        assertNotNull(Names.interfaceNameProblem(name), name);
    }
}
