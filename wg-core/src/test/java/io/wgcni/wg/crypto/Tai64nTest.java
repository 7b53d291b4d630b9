package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class Tai64nTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void epoch() {
        assertEquals("400000000000000a00000000", stamp(0));
    }

    @Test
    void knownTime() {
        // 2024-01-01T00:00:00Z is 1704067200 s = 0x65920080; 0.5 s = 0x1dcd6500 ns, whitened to 0x1d000000.
        long nanos = 1_704_067_200L * 1_000_000_000L + 500_000_000L;
        assertEquals("400000006592008a1d000000", stamp(nanos));
    }

    @Test
    void whitensTheLow24BitsOfTheNanoseconds() {
        long second = 1_000_000_000_000_000_000L;
        assertEquals(stamp(second), stamp(second + 0xffffff));
        assertTrue(compare(stamp(second + 0x1000000), stamp(second + 0xffffff)) > 0);
        assertEquals("00000000", stamp(second + 0xffffff).substring(16));
        assertEquals("01000000", stamp(second + 0x1000000).substring(16));
    }

    @Test
    void laterComparesGreater() {
        long t = 1_700_000_000L * 1_000_000_000L;
        assertTrue(compare(stamp(t + 1_000_000_000L), stamp(t)) > 0);
        assertTrue(compare(stamp(t), stamp(t + 1_000_000_000L)) < 0);
        assertTrue(compare(stamp(t + 999_000_000L), stamp(t)) > 0);
        // A carry into the seconds: the nanosecond field restarts lower, the stamp is still later.
        assertTrue(compare(stamp(t + 1_000_000_000L), stamp(t + 999_000_000L)) > 0);
        assertEquals(0, compare(stamp(t), stamp(t)));
        // Bytes at or above 0x80 must compare unsigned.
        assertTrue(compare(stamp(t + 0x80000000L), stamp(t)) > 0);
    }

    @Test
    void writesAtAnOffset() {
        byte[] out = new byte[20];
        Tai64n.write(out, 5, 0);
        assertEquals("0000000000400000000000000a00000000000000", HEX.formatHex(out));
        byte[] other = new byte[12];
        Tai64n.write(other, 0, 0);
        assertEquals(0, Tai64n.compare(out, 5, other, 0));
    }

    private static String stamp(long epochNanos) {
        byte[] out = new byte[12];
        Tai64n.write(out, 0, epochNanos);
        return HEX.formatHex(out);
    }

    private static int compare(String a, String b) {
        return Tai64n.compare(HEX.parseHex(a), 0, HEX.parseHex(b), 0);
    }
}
