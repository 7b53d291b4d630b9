package io.wgcni.wg.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class EndpointTest {

    @ParameterizedTest
    @CsvSource({
        "192.0.2.1:51820, 192.0.2.1:51820",
        "[2001:db8::1]:1, [2001:db8::1]:1",
        "[2001:0db8:0:0:1:0:0:1]:2, [2001:db8::1:0:0:1]:2",
        "[::]:0, [::]:0",
        "[fe80:0:0:0:0:0:0:1]:3, [fe80::1]:3",
        "[1:0:1:0:1:0:1:0]:4, [1:0:1:0:1:0:1:0]:4"})
    void parsesAndPrintsCanonically(String text, String canonical) {
        assertEquals(canonical, Endpoint.parse(text).toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"192.0.2.1", "192.0.2.1:", ":51820", "2001:db8::1:51820", "example.com:51820",
        "192.0.2.1:x", "192.0.2.1:70000", "10.1:51820", "[fe80::1%eth0]:1"})
    void rejectsWhatIsNotALiteralEndpoint(String text) {
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse(text));
    }
}
