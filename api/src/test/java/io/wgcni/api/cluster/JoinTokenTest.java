package io.wgcni.api.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class JoinTokenTest {
    private static final String HASH = "0123456789abcdef".repeat(4);

    @Test
    void parsesTheJoinString() {
        JoinToken t = JoinToken.parse("abc123.s3cr3tt0k3nvalue:sha256:" + HASH);
        assertEquals("abc123", t.id());
        assertEquals("s3cr3tt0k3nvalue", t.secret());
        assertEquals("abc123.s3cr3tt0k3nvalue", t.tokenPart());
        assertArrayEquals(HexFormat.of().parseHex(HASH), t.caKeyHash());
        assertFalse(t.toString().contains(t.secret()));
    }

    @Test
    void rejectsMalformedStringsWithoutEchoingTheSecret() {
        String secret = "zzzzzzzzzzzzzzzzQ";
        for (String bad : new String[] {
                "abc123." + secret + ":sha256:" + HASH,
                "abc123." + secret.substring(0, 16),
                "abc123" + secret.substring(0, 16) + ":sha256:" + HASH,
                "abc123." + secret.substring(0, 16) + ":sha1:" + HASH,
                "abc123." + secret.substring(0, 16) + ":sha256:" + HASH.toUpperCase(),
                "ABC123." + secret.substring(0, 16) + ":sha256:" + HASH}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JoinToken.parse(bad), bad);
            assertFalse(e.getMessage().contains(secret.substring(0, 16)), e.getMessage());
        }
    }
}
