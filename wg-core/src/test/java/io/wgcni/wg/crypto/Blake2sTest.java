package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.bouncycastle.crypto.digests.Blake2sDigest;
import org.junit.jupiter.api.Test;

class Blake2sTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void rfc7693AppendixBAbc() {
        byte[] out = new Blake2s(32).update("abc".getBytes(StandardCharsets.US_ASCII)).digest();
        assertEquals("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982", HEX.formatHex(out));
    }

    @Test
    void unkeyedEmpty() {
        assertEquals("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9",
                HEX.formatHex(new Blake2s(32).digest()));
    }

    @Test
    void keyedKatEmptyInput() {
        // blake2s-kat.txt, keyed, in = (empty).
        assertEquals("48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49",
                HEX.formatHex(new Blake2s(32, katKey()).digest()));
    }

    @Test
    void keyedKatAgainstBouncyCastle() {
        // The KAT's inputs are 00 01 02 .. n-1; lengths straddle the block boundary where the final flag matters.
        byte[] key = katKey();
        for (int n : new int[] {0, 1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255}) {
            byte[] in = new byte[n];
            for (int i = 0; i < n; i++) {
                in[i] = (byte) i;
            }
            assertArrayEquals(bouncyCastle(key, 32, in), new Blake2s(32, key).update(in).digest(), "length " + n);
        }
    }

    @Test
    void digestResetsToTheKeyedInitialState() {
        Blake2s b = new Blake2s(32, katKey());
        byte[] first = b.update(new byte[100]).digest();
        assertArrayEquals(first, b.update(new byte[100]).digest());
        assertEquals("48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49", HEX.formatHex(b.digest()));
    }

    @Test
    void hashConcatenatesItsParts() {
        byte[] expected = new Blake2s(32).update("abc".getBytes(StandardCharsets.US_ASCII)).digest();
        byte[] out = new byte[32];
        Blake2s.hash(out, new byte[] {'a'}, new byte[0], new byte[] {'b', 'c'});
        assertArrayEquals(expected, out);
    }

    @Test
    void macIsKeyedBlake2s128() {
        byte[] key = new byte[32];
        key[0] = 7;
        byte[] data = new byte[200];
        data[150] = 1;
        byte[] out = new byte[16];
        Blake2s.mac(out, key, data, 10, 150);
        byte[] slice = java.util.Arrays.copyOfRange(data, 10, 160);
        assertArrayEquals(bouncyCastle(key, 16, slice), out);
    }

    @Test
    void noiseConstructionAndIdentifier() {
        // Initial chaining key and hash of WireGuard's handshake (whitepaper section 5.4).
        byte[] ck = new byte[32];
        Blake2s.hash(ck, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s".getBytes(StandardCharsets.US_ASCII));
        assertEquals("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", HEX.formatHex(ck));
        byte[] h = new byte[32];
        Blake2s.hash(h, ck, "WireGuard v1 zx2c4 Jason@zx2c4.com".getBytes(StandardCharsets.US_ASCII));
        assertEquals("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3", HEX.formatHex(h));
    }

    @Test
    void rejectsBadLengths() {
        assertThrows(IllegalArgumentException.class, () -> new Blake2s(0));
        assertThrows(IllegalArgumentException.class, () -> new Blake2s(33));
        assertThrows(IllegalArgumentException.class, () -> new Blake2s(32, new byte[33]));
    }

    @Property(tries = 300)
    void equalsBouncyCastle(
            @ForAll @Size(max = 32) byte[] key,
            @ForAll @IntRange(min = 1, max = 32) int outLen,
            @ForAll @Size(max = 300) byte[] input,
            @ForAll @IntRange(min = 0, max = 300) int split1,
            @ForAll @IntRange(min = 0, max = 300) int split2) {
        int a = Math.min(split1, split2) % (input.length + 1);
        int b = Math.max(a, Math.max(split1, split2) % (input.length + 1));
        Blake2s mine = new Blake2s(outLen, key);
        mine.update(input, 0, a).update(input, a, b - a).update(input, b, input.length - b);
        byte[] out = new byte[outLen + 3];
        mine.digest(out, 3);
        assertArrayEquals(bouncyCastle(key, outLen, input), java.util.Arrays.copyOfRange(out, 3, 3 + outLen));
        // And again after the reset, in one update.
        assertArrayEquals(bouncyCastle(key, outLen, input), mine.update(input).digest());
    }

    private static byte[] katKey() {
        byte[] key = new byte[32];
        for (int i = 0; i < 32; i++) {
            key[i] = (byte) i;
        }
        return key;
    }

    private static byte[] bouncyCastle(byte[] key, int outLen, byte[] in) {
        Blake2sDigest d = new Blake2sDigest(key.length == 0 ? null : key, outLen, null, null);
        d.update(in, 0, in.length);
        byte[] out = new byte[outLen];
        d.doFinal(out, 0);
        return out;
    }
}
