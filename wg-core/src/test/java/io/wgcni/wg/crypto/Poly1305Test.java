package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.bouncycastle.crypto.params.KeyParameter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class Poly1305Test {
    private static final HexFormat HEX = HexFormat.of();
    private static final String IETF = "Any submission to the IETF intended by the Contributor for publication as all"
            + " or part of an IETF Internet-Draft or RFC and any statement made within the context of an IETF"
            + " activity is considered an \"IETF Contribution\". Such statements include oral statements in IETF"
            + " sessions, as well as written and electronic communications made at any time or place, which are"
            + " addressed to";

    static String tag(byte[] key, byte[] message) {
        Poly1305 mac = new Poly1305();
        mac.init(key, 0);
        mac.update(message, 0, message.length);
        byte[] tag = new byte[16];
        mac.finish(tag, 0);
        return HEX.formatHex(tag);
    }

    static String bouncyCastleTag(byte[] key, byte[] message) {
        org.bouncycastle.crypto.macs.Poly1305 mac = new org.bouncycastle.crypto.macs.Poly1305();
        mac.init(new KeyParameter(key));
        mac.update(message, 0, message.length);
        byte[] tag = new byte[16];
        mac.doFinal(tag, 0);
        return HEX.formatHex(tag);
    }

    @Test
    void rfc8439Section252() {
        byte[] key = HEX.parseHex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
        byte[] message = "Cryptographic Forum Research Group".getBytes(StandardCharsets.US_ASCII);
        assertEquals("a8061dc1305136c6c22b8baf0c0127a9", tag(key, message));
    }

    /** RFC 8439 appendix A.3: #1-#4 ordinary, #5-#11 the reduction's corner cases (see the RFC's notes). */
    static Stream<Arguments> appendixA3() {
        byte[] ietf = IETF.getBytes(StandardCharsets.US_ASCII);
        byte[] jabberwocky = ("'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\n"
                + "All mimsy were the borogoves,\nAnd the mome raths outgrabe.").getBytes(StandardCharsets.US_ASCII);
        String zeros16 = "00".repeat(16);
        return Stream.of(
                Arguments.of(1, "00".repeat(32), "00".repeat(64), zeros16),
                Arguments.of(2, zeros16 + "36e5f6b5c5e06070f0efca96227a863e", HEX.formatHex(ietf),
                        "36e5f6b5c5e06070f0efca96227a863e"),
                Arguments.of(3, "36e5f6b5c5e06070f0efca96227a863e" + zeros16, HEX.formatHex(ietf),
                        "f3477e7cd95417af89a6b8794c310cf0"),
                Arguments.of(4, "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
                        HEX.formatHex(jabberwocky), "4541669a7eaaee61e708dc7cbcc5eb62"),
                Arguments.of(5, "02" + "00".repeat(31), "ff".repeat(16), "03" + "00".repeat(15)),
                Arguments.of(6, "02" + "00".repeat(15) + "ff".repeat(16), "02" + "00".repeat(15),
                        "03" + "00".repeat(15)),
                Arguments.of(7, "01" + "00".repeat(31),
                        "ff".repeat(16) + "f0" + "ff".repeat(15) + "11" + "00".repeat(15), "05" + "00".repeat(15)),
                Arguments.of(8, "01" + "00".repeat(31),
                        "ff".repeat(16) + "fb" + "fe".repeat(15) + "01".repeat(16), zeros16),
                Arguments.of(9, "02" + "00".repeat(31), "fd" + "ff".repeat(15), "fa" + "ff".repeat(15)),
                Arguments.of(10, "01" + "00".repeat(7) + "04" + "00".repeat(23),
                        "e33594d7505e43b9" + "00".repeat(8) + "3394d7505e4379cd01" + "00".repeat(23) + "01"
                                + "00".repeat(15),
                        "1400000000000000" + "5500000000000000"),
                Arguments.of(11, "01" + "00".repeat(7) + "04" + "00".repeat(23),
                        "e33594d7505e43b9" + "00".repeat(8) + "3394d7505e4379cd01" + "00".repeat(23),
                        "13" + "00".repeat(15)));
    }

    @ParameterizedTest(name = "A.3 #{0}")
    @MethodSource
    void appendixA3(int number, String keyHex, String messageHex, String expected) {
        byte[] key = HEX.parseHex(keyHex);
        byte[] message = HEX.parseHex(messageHex);
        assertEquals(expected, bouncyCastleTag(key, message), "the vector as transcribed");
        assertEquals(expected, tag(key, message));

        // Byte by byte, from a key at an offset, into a tag at an offset, on a reused instance.
        Poly1305 mac = new Poly1305();
        byte[] keyAt5 = new byte[5 + 32 + 3];
        System.arraycopy(key, 0, keyAt5, 5, 32);
        byte[] out = new byte[7 + 16 + 2];
        for (int round = 0; round < 2; round++) {
            mac.init(keyAt5, 5);
            for (int i = 0; i < message.length; i++) {
                mac.update(message, i, 1);
            }
            mac.finish(out, 7);
            assertEquals(expected, HEX.formatHex(out, 7, 23));
        }
    }

    @Test
    void pad16AbsorbsZerosToABlockBoundary() {
        byte[] key = HEX.parseHex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
        for (int len = 0; len <= 48; len++) {
            byte[] message = new byte[len];
            Arrays.fill(message, (byte) 0xa7);
            byte[] padded = Arrays.copyOf(message, (len + 15) & ~15);
            Poly1305 mac = new Poly1305();
            mac.init(key, 0);
            mac.update(message, 0, len);
            mac.pad16();
            mac.pad16(); // already on a boundary: nothing
            byte[] tag = new byte[16];
            mac.finish(tag, 0);
            assertEquals(bouncyCastleTag(key, padded), HEX.formatHex(tag), "length " + len);
        }
    }

    @Test
    void updateWordsIsTwoLittleEndianLongs() {
        byte[] key = HEX.parseHex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
        long a = 0x0102030405060708L;
        long b = -2;
        byte[] bytes = HEX.parseHex("0807060504030201feffffffffffffff");
        for (int before = 0; before < 20; before++) { // also when not on a block boundary
            byte[] prefix = new byte[before];
            Poly1305 mac = new Poly1305();
            mac.init(key, 0);
            mac.update(prefix, 0, before);
            mac.updateWords(a, b);
            byte[] tag = new byte[16];
            mac.finish(tag, 0);
            byte[] whole = new byte[before + 16];
            System.arraycopy(bytes, 0, whole, before, 16);
            assertEquals(bouncyCastleTag(key, whole), HEX.formatHex(tag), "after " + before);
        }
    }

    /** Random keys (and all-ones ones: the largest clamped r and s) and messages, split at random points. */
    @Property(tries = 1000)
    void matchesBouncyCastle(@ForAll("keys") byte[] key, @ForAll @IntRange(min = 0, max = 2000) int length,
            @ForAll long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        byte[] message = new byte[length];
        if (random.nextInt(4) == 0) {
            Arrays.fill(message, (byte) 0xff);
        } else {
            random.nextBytes(message);
        }
        Poly1305 mac = new Poly1305();
        mac.init(key, 0);
        int off = 0;
        while (off < length) {
            int n = random.nextInt(4) == 0 ? random.nextInt(17) : random.nextInt(length - off + 1);
            n = Math.min(n, length - off);
            mac.update(message, off, n);
            off += n;
        }
        byte[] tag = new byte[16];
        mac.finish(tag, 0);
        assertEquals(bouncyCastleTag(key, message), HEX.formatHex(tag));
    }

    @Provide
    Arbitrary<byte[]> keys() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofSize(32);
        byte[] ones = new byte[32];
        Arrays.fill(ones, (byte) 0xff);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(8, random),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(ones)));
    }

    @Test
    void reusedInstanceStartsOverAtInit() {
        byte[] key = HEX.parseHex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
        byte[] message = "Cryptographic Forum Research Group".getBytes(StandardCharsets.US_ASCII);
        Poly1305 mac = new Poly1305();
        mac.init(HEX.parseHex("ff".repeat(32)), 0);
        mac.update(message, 0, 7); // abandoned half-way, with a partial block buffered
        mac.init(key, 0);
        mac.update(message, 0, message.length);
        byte[] tag = new byte[16];
        mac.finish(tag, 0);
        assertArrayEquals(HEX.parseHex("a8061dc1305136c6c22b8baf0c0127a9"), tag);
    }
}
