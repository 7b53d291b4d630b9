package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.ChaCha20ParameterSpec;
import org.junit.jupiter.api.Test;

/**
 * What ChaChaPoly's own construction relies on in the JDK's plain "ChaCha20" cipher: one init at block counter 0
 * gives block 0 (the Poly1305 key) and then, in the same stream, block 1 onwards; decrypt mode is the same stream
 * and is exempt from the reuse guard.
 */
class JdkChaCha20Test {
    private static final HexFormat HEX = HexFormat.of();
    private static final byte[] ZEROS = new byte[64];

    private static Cipher chacha20(int mode, SecretKey key, byte[] nonce, int counter) throws Exception {
        Cipher cipher = Cipher.getInstance("ChaCha20");
        cipher.init(mode, key, new ChaCha20ParameterSpec(nonce, counter));
        return cipher;
    }

    @Test
    void block0IsThePoly1305KeyOfRfc8439Section262() throws Exception {
        SecretKey key = ChaChaPoly.key(ChaChaPolyTest.key80());
        Cipher cipher = chacha20(Cipher.DECRYPT_MODE, key, HEX.parseHex("000000000001020304050607"), 0);
        byte[] block0 = new byte[64];
        cipher.update(ZEROS, 0, 64, block0, 0);
        assertEquals("8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646",
                HEX.formatHex(block0, 0, 32));
    }

    @Test
    void afterBlock0TheStreamContinuesWithBlock1Rfc8439Section282() throws Exception {
        SecretKey key = ChaChaPoly.key(ChaChaPolyTest.key80());
        byte[] nonce = HEX.parseHex("070000004041424344454647");
        String expected = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                + "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
                + "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
        byte[] plain = ChaChaPolyTest.SUNSCREEN;
        for (int mode : new int[] {Cipher.ENCRYPT_MODE, Cipher.DECRYPT_MODE}) {
            Cipher cipher = chacha20(mode, key, nonce, 0);
            cipher.update(ZEROS, 0, 64, new byte[64], 0);
            byte[] out = new byte[plain.length];
            // In uneven pieces, as a stream.
            int n = cipher.update(plain, 0, 3, out, 0);
            n += cipher.update(plain, 3, 70, out, 3);
            n += cipher.update(plain, 73, plain.length - 73, out, 73);
            assertEquals(plain.length, n);
            assertEquals(expected, HEX.formatHex(out), "mode " + mode);
        }
        // The same as starting at counter 1.
        byte[] direct = chacha20(Cipher.ENCRYPT_MODE, key, nonce, 1).doFinal(plain);
        assertEquals(expected, HEX.formatHex(direct));
    }

    @Test
    void encryptModeRefusesTheSameKeyAndNonceTwiceDecryptModeDoesNot() throws Exception {
        SecretKey key = ChaChaPoly.key(ChaChaPolyTest.key80());
        byte[] nonce = new byte[12];
        Cipher cipher = chacha20(Cipher.ENCRYPT_MODE, key, nonce, 0);
        assertThrows(java.security.InvalidKeyException.class,
                () -> cipher.init(Cipher.ENCRYPT_MODE, key, new ChaCha20ParameterSpec(nonce, 0)));

        Cipher decrypt = chacha20(Cipher.DECRYPT_MODE, key, nonce, 0);
        byte[] first = decrypt.update(new byte[100]);
        decrypt.init(Cipher.DECRYPT_MODE, key, new ChaCha20ParameterSpec(nonce, 0));
        byte[] second = decrypt.update(new byte[100]);
        assertArrayEquals(first, second);
        assertEquals(100, first.length);
        assertArrayEquals(first, chacha20(Cipher.ENCRYPT_MODE, ChaChaPoly.key(ChaChaPolyTest.key80()),
                Arrays.copyOf(nonce, 12), 0).doFinal(new byte[100]));
    }
}
