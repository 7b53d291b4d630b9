package io.wgcni.wg.noise;

import static io.wgcni.wg.noise.Protocol.REJECT_AFTER_MESSAGES;

import java.util.Arrays;

/**
 * The receive side's replay protection for one keypair: an RFC 6479 sliding window over the 64-bit message
 * counters, behaving exactly like the Linux kernel's {@code counter_validate} (receive.c) with a bitmap of
 * {@code COUNTER_BITS_TOTAL = 8192} bits, of which {@code COUNTER_WINDOW_SIZE = 8128} trail the highest counter
 * seen.
 *
 * <p>RFC 6479 keeps the bitmap as a ring of 64-bit words: moving the window forward clears the words it enters
 * instead of shifting the whole bitmap, and one word's worth of slack is why the window is 8192 - 64 counters.
 *
 * <p>Counters are unsigned 64-bit values carried in a {@code long}. Not thread-safe: {@link Keypair} serialises calls
 * for a keypair (the kernel holds a spinlock around the same code). A counter at or above REJECT_AFTER_MESSAGES
 * is never accepted.
 */
public final class ReplayWindow {
    private static final int BITS_TOTAL = 8192;
    private static final int WORDS = BITS_TOTAL / Long.SIZE;
    /** How far below the highest counter seen a counter may be and still be accepted (once). */
    static final int WINDOW_SIZE = BITS_TOTAL - Long.SIZE;

    private final long[] ring = new long[WORDS];
    /**
     * One more than the highest counter accepted, 0 before any: the kernel keeps the counter shifted by one so
     * that zero means "nothing yet" and counter 0 is still accepted once. Never above REJECT_AFTER_MESSAGES,
     * so arithmetic on it cannot wrap (and the kernel's extra check for a stored counter above that limit can
     * never fire, so it is left out).
     */
    private long next;

    /** Accepts {@code counter} and records it if it is new and inside the window; false means drop the packet. */
    public boolean validate(long counter) {
        if (Long.compareUnsigned(counter, REJECT_AFTER_MESSAGES) >= 0) {
            return false;
        }
        long c = counter + 1; // cannot wrap: counter < REJECT_AFTER_MESSAGES
        if (Long.compareUnsigned(c + WINDOW_SIZE, next) < 0) {
            return false; // too old: slid out of the window
        }
        long word = c >>> 6;
        if (Long.compareUnsigned(c, next) > 0) {
            advance(word);
            next = c;
        }
        return testAndSet((int) (word & (WORDS - 1)), 1L << c);
    }

    /** Forgets every counter, as for a fresh keypair. */
    public void reset() {
        Arrays.fill(ring, 0);
        next = 0;
    }

    /**
     * Clears the ring words after the current top word up to the one holding the new top, all of them when the
     * jump is a whole ring or more: those words held counters that are now below the window.
     */
    private void advance(long word) {
        long current = next >>> 6;
        long clear = Math.min(word - current, WORDS); // both are below 2^58: plain subtraction is safe
        for (long i = 1; i <= clear; i++) {
            ring[(int) ((current + i) & (WORDS - 1))] = 0;
        }
    }

    /** Sets the bit and says whether it was clear. Java masks the shift count, so {@code 1L << c} is bit c % 64. */
    private boolean testAndSet(int index, long bit) {
        boolean fresh = (ring[index] & bit) == 0;
        ring[index] |= bit;
        return fresh;
    }
}
