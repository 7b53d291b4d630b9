package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HexFormat;
import org.bouncycastle.crypto.digests.Blake2sDigest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KdfTest {
    private static final HexFormat HEX = HexFormat.of();

    // wireguard-go device/kdf_test.go: key, input, t0, t1, t2 (an empty cell is an empty byte string).
    @ParameterizedTest
    @CsvSource({
        "746573742d6b6579, 746573742d696e707574,"
            + " 6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633,"
            + " df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a,"
            + " fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24",
        "776972656775617264, 776972656775617264,"
            + " 491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8,"
            + " 1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f,"
            + " 31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160",
        "'', '',"
            + " 8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0,"
            + " 58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e,"
            + " 0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e",
    })
    void wireguardGoVectors(String keyHex, String inputHex, String t0, String t1, String t2) {
        byte[] key = HEX.parseHex(keyHex);
        byte[] input = HEX.parseHex(inputHex);
        byte[] a = new byte[32], b = new byte[32], c = new byte[32];

        Kdf.kdf3(a, b, c, key, input);
        assertEquals(t0, HEX.formatHex(a));
        assertEquals(t1, HEX.formatHex(b));
        assertEquals(t2, HEX.formatHex(c));

        a = new byte[32];
        b = new byte[32];
        Kdf.kdf2(a, b, key, input);
        assertEquals(t0, HEX.formatHex(a));
        assertEquals(t1, HEX.formatHex(b));

        a = new byte[32];
        Kdf.kdf1(a, key, input);
        assertEquals(t0, HEX.formatHex(a));
    }

    @Test
    void outputsMayAliasTheKey() {
        byte[] key = new byte[32];
        key[3] = 9;
        byte[] input = {1, 2, 3};
        byte[] t0 = new byte[32], t1 = new byte[32], t2 = new byte[32];
        Kdf.kdf3(t0, t1, t2, key.clone(), input);

        byte[] ck = key.clone();
        Kdf.kdf1(ck, ck, input);
        assertArrayEquals(t0, ck);

        ck = key.clone();
        byte[] k = new byte[32];
        Kdf.kdf2(ck, k, ck, input);
        assertArrayEquals(t0, ck);
        assertArrayEquals(t1, k);

        ck = key.clone();
        byte[] x = new byte[32];
        Kdf.kdf3(ck, x, k, ck, input);
        assertArrayEquals(t0, ck);
        assertArrayEquals(t1, x);
        assertArrayEquals(t2, k);
    }

    @Test
    void outputMayAliasTheInput() {
        byte[] key = new byte[32];
        byte[] input = new byte[32];
        input[0] = 5;
        byte[] expected = new byte[32];
        Kdf.kdf1(expected, key, input.clone());
        Kdf.kdf1(input, key, input);
        assertArrayEquals(expected, input);
    }

    @Test
    void hmacMatchesBouncyCastle() {
        // Key lengths below, at and above the 64-byte block; the last is hashed first, per RFC 2104.
        for (int keyLen : new int[] {0, 8, 32, 64, 65, 100}) {
            byte[] key = new byte[keyLen];
            for (int i = 0; i < keyLen; i++) {
                key[i] = (byte) (i * 7 + 1);
            }
            byte[] data = new byte[77];
            data[5] = 42;
            HMac bc = new HMac(new Blake2sDigest(256));
            bc.init(new KeyParameter(key));
            bc.update(data, 0, data.length);
            byte[] expected = new byte[32];
            bc.doFinal(expected, 0);

            byte[] out = new byte[32];
            Kdf.hmac(out, key, data);
            assertArrayEquals(expected, out, "key length " + keyLen);
        }
    }
}
