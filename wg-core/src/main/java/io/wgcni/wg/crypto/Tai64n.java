package io.wgcni.wg.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * The 12-byte TAI64N timestamp of WireGuard's handshake initiation: big-endian 2^62 + 10 + Unix seconds, then
 * big-endian nanoseconds. The responder keeps the greatest timestamp seen per peer and drops initiations that
 * are not later, which defeats replay.
 */
public final class Tai64n {
    public static final int LENGTH = 12;
    private static final long BASE = 0x400000000000000aL;
    // As wireguard-go: the nanoseconds are rounded down to a multiple of 2^24 ns (about 16.8 ms) so the stamp
    // does not reveal the sender's clock finely, and an initiation is accepted at most once per such interval.
    private static final int WHITENER_MASK = 0x1000000 - 1;
    private static final VarHandle BE_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle BE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private Tai64n() {
    }

    /** Writes the stamp of {@code epochNanos} (nanoseconds since the Unix epoch) to out[off..off+12). */
    public static void write(byte[] out, int off, long epochNanos) {
        Objects.checkFromIndexSize(off, LENGTH, out.length);
        long seconds = Math.floorDiv(epochNanos, 1_000_000_000L);
        int nanos = (int) Math.floorMod(epochNanos, 1_000_000_000L) & ~WHITENER_MASK;
        BE_LONG.set(out, off, BASE + seconds);
        BE_INT.set(out, off + 8, nanos);
    }

    /** Compares two stamps as unsigned big-endian numbers: negative, zero or positive as a is before, at or after b. */
    public static int compare(byte[] a, int aOff, byte[] b, int bOff) {
        return Arrays.compareUnsigned(a, aOff, aOff + LENGTH, b, bOff, bOff + LENGTH);
    }
}
