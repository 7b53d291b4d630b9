package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class X25519Test {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void rfc7748Section52Vectors() {
        assertEquals("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", x25519(
                "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
        assertEquals("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957", x25519(
                "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"));
    }

    @Test
    void rfc7748Section52Iterations() {
        byte[] k = new byte[32];
        byte[] u = new byte[32];
        k[0] = 9;
        u[0] = 9;
        byte[] r = new byte[32];
        for (int i = 1; i <= 1000; i++) {
            assertTrue(X25519.sharedSecret(r, k, u));
            byte[] oldK = k;
            k = r.clone();
            u = oldK;
            if (i == 1) {
                assertEquals("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", HEX.formatHex(k));
            }
        }
        assertEquals("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", HEX.formatHex(k));
    }

    @Test
    void rfc7748Section61DiffieHellman() {
        Key alice = Key.fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        Key bob = Key.fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        Key alicePub = X25519.publicKey(alice);
        Key bobPub = X25519.publicKey(bob);
        assertEquals("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", alicePub.toHex());
        assertEquals("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", bobPub.toHex());
        byte[] k1 = new byte[32];
        byte[] k2 = new byte[32];
        assertTrue(X25519.sharedSecret(k1, alice, bobPub));
        assertTrue(X25519.sharedSecret(k2, bob, alicePub));
        assertEquals("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", HEX.formatHex(k1));
        assertArrayEquals(k1, k2);
    }

    @Test
    void lowOrderPointIsRejected() {
        Key priv = X25519.generatePrivateKey();
        byte[] out = new byte[32];
        Arrays.fill(out, (byte) 0xff);
        assertFalse(X25519.sharedSecret(out, priv, Key.zero()));
        assertArrayEquals(new byte[32], out);
        // u = 1 has order 1 as well.
        byte[] one = new byte[32];
        one[0] = 1;
        Arrays.fill(out, (byte) 0xff);
        assertFalse(X25519.sharedSecret(out, priv.bytes(), one));
        assertArrayEquals(new byte[32], out);
    }

    @Test
    void generatedKeysAreClampedAndAgree() {
        Key a = X25519.generatePrivateKey();
        Key b = X25519.generatePrivateKey();
        assertNotEquals(a, b);
        byte[] raw = a.bytes();
        assertEquals(0, raw[0] & 7);
        assertEquals(64, raw[31] & 0xc0);
        byte[] s1 = new byte[32];
        byte[] s2 = new byte[32];
        assertTrue(X25519.sharedSecret(s1, a, X25519.publicKey(b)));
        assertTrue(X25519.sharedSecret(s2, b, X25519.publicKey(a)));
        assertArrayEquals(s1, s2);
    }

    private static String x25519(String scalar, String u) {
        byte[] out = new byte[32];
        assertTrue(X25519.sharedSecret(out, HEX.parseHex(scalar), HEX.parseHex(u)));
        return HEX.formatHex(out);
    }
}
