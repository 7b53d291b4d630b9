package io.wgcni.wg.noise;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;

class ReplayWindowTest {
    /** The kernel's names. */
    private static final long COUNTER_WINDOW_SIZE = ReplayWindow.WINDOW_SIZE;
    private static final long REJECT_AFTER_MESSAGES = Protocol.REJECT_AFTER_MESSAGES;
    private static final long T_LIM = COUNTER_WINDOW_SIZE + 1;

    private final ReplayWindow counter = new ReplayWindow();
    private int testNum;

    /** Named, like T_INIT, as in the kernel's selftest, so the port reads line for line. */
    private void T(long n, boolean v) {
        int num = ++testNum;
        assertEquals(v, counter.validate(n), () -> "nonce counter self-test " + num + ": " + Long.toUnsignedString(n));
    }

    private void T_INIT() {
        counter.reset();
    }

    @Test
    void constantsAreTheKernels() {
        assertEquals(8128, COUNTER_WINDOW_SIZE);
        assertEquals("18446744073709543423", Long.toUnsignedString(REJECT_AFTER_MESSAGES)); // 2^64 - 2^13 - 1
    }

    /** drivers/net/wireguard/selftest/counter.c, line by line. */
    @Test
    void kernelSelftest() {
        T_INIT();
        /*  1 */ T(0, true);
        /*  2 */ T(1, true);
        /*  3 */ T(1, false);
        /*  4 */ T(9, true);
        /*  5 */ T(8, true);
        /*  6 */ T(7, true);
        /*  7 */ T(7, false);
        /*  8 */ T(T_LIM, true);
        /*  9 */ T(T_LIM - 1, true);
        /* 10 */ T(T_LIM - 1, false);
        /* 11 */ T(T_LIM - 2, true);
        /* 12 */ T(2, true);
        /* 13 */ T(2, false);
        /* 14 */ T(T_LIM + 16, true);
        /* 15 */ T(3, false);
        /* 16 */ T(T_LIM + 16, false);
        /* 17 */ T(T_LIM * 4, true);
        /* 18 */ T(T_LIM * 4 - (T_LIM - 1), true);
        /* 19 */ T(10, false);
        /* 20 */ T(T_LIM * 4 - T_LIM, false);
        /* 21 */ T(T_LIM * 4 - (T_LIM + 1), false);
        /* 22 */ T(T_LIM * 4 - (T_LIM - 2), true);
        /* 23 */ T(T_LIM * 4 + 1 - T_LIM, false);
        /* 24 */ T(0, false);
        /* 25 */ T(REJECT_AFTER_MESSAGES, false);
        /* 26 */ T(REJECT_AFTER_MESSAGES - 1, true);
        /* 27 */ T(REJECT_AFTER_MESSAGES, false);
        /* 28 */ T(REJECT_AFTER_MESSAGES - 1, false);
        /* 29 */ T(REJECT_AFTER_MESSAGES - 2, true);
        /* 30 */ T(REJECT_AFTER_MESSAGES + 1, false);
        /* 31 */ T(REJECT_AFTER_MESSAGES + 2, false);
        /* 32 */ T(REJECT_AFTER_MESSAGES - 2, false);
        /* 33 */ T(REJECT_AFTER_MESSAGES - 3, true);
        /* 34 */ T(0, false);

        T_INIT();
        for (long i = 1; i <= COUNTER_WINDOW_SIZE; ++i) {
            T(i, true);
        }
        T(0, true);
        T(0, false);

        T_INIT();
        for (long i = 2; i <= COUNTER_WINDOW_SIZE + 1; ++i) {
            T(i, true);
        }
        T(1, true);
        T(0, false);

        T_INIT();
        for (long i = COUNTER_WINDOW_SIZE + 1; i-- > 0; ) {
            T(i, true);
        }

        T_INIT();
        for (long i = COUNTER_WINDOW_SIZE + 2; i-- > 1; ) {
            T(i, true);
        }
        T(0, false);

        T_INIT();
        for (long i = COUNTER_WINDOW_SIZE + 1; i-- > 1; ) {
            T(i, true);
        }
        T(COUNTER_WINDOW_SIZE + 1, true);
        T(0, false);

        T_INIT();
        for (long i = COUNTER_WINDOW_SIZE + 1; i-- > 1; ) {
            T(i, true);
        }
        T(0, true);
        T(COUNTER_WINDOW_SIZE + 1, true);
    }

    @Test
    void countersAboveTheSignedRangeAreOrdinary() {
        long big = Long.MIN_VALUE + 5; // 2^63 + 5: negative as a Java long
        assertTrue(counter.validate(big));
        assertTrue(counter.validate(big - 1));
        assertFalse(counter.validate(big - 1));
        assertFalse(counter.validate(Long.MAX_VALUE - COUNTER_WINDOW_SIZE), "far below 2^63 + 5, unsigned");
        assertTrue(counter.validate(-1L - 8192 - 1), "REJECT_AFTER_MESSAGES - 1");
        assertFalse(counter.validate(-1L), "2^64 - 1");
    }

    @Test
    void aJumpOfAWholeRingForgetsEverything() {
        for (long i = 0; i < 100; i++) {
            assertTrue(counter.validate(i));
        }
        long far = 99 + 64L * 128 + 64; // words ahead: more than the ring holds
        assertTrue(counter.validate(far));
        assertFalse(counter.validate(99), "now below the window");
        assertTrue(counter.validate(far - COUNTER_WINDOW_SIZE));
        assertTrue(counter.validate(far - 1));
    }

    @Test
    void resetForgetsEverything() {
        assertTrue(counter.validate(5));
        assertTrue(counter.validate(100_000));
        counter.reset();
        assertTrue(counter.validate(5));
        assertTrue(counter.validate(0));
        assertTrue(counter.validate(100_000));
    }

    // ---- against a reference ----

    /**
     * The rule the kernel's code implements, stated directly: with {@code max} the highest counter accepted so
     * far, accept {@code c} iff {@code c < REJECT_AFTER_MESSAGES}, {@code c} was never accepted, and
     * {@code c >= max - COUNTER_WINDOW_SIZE} (the kernel stores max + 1 and rejects when
     * {@code c + 1 + COUNTER_WINDOW_SIZE < max + 1}). Everything unsigned.
     */
    static final class Reference {
        private final Set<Long> seen = new HashSet<>();
        private Long max;

        boolean validate(long c) {
            if (Long.compareUnsigned(c, REJECT_AFTER_MESSAGES) >= 0 || seen.contains(c)) {
                return false;
            }
            if (max != null && Long.compareUnsigned(c + COUNTER_WINDOW_SIZE, max) < 0) {
                return false;
            }
            seen.add(c);
            max = max == null || Long.compareUnsigned(c, max) > 0 ? c : max;
            return true;
        }

        long max(long otherwise) {
            return max == null ? otherwise : max;
        }
    }

    /**
     * Each step is an offset from the highest counter accepted so far (from a start point before any), drawn
     * mostly near the edges that matter: just behind the top, around the far end of the window, around a
     * ring's worth ahead.
     */
    @Property(tries = 300)
    void matchesTheReference(@ForAll("starts") long start, @ForAll("steps") List<Long> steps) {
        ReplayWindow window = new ReplayWindow();
        Reference ref = new Reference();
        for (long step : steps) {
            long c = ref.max(start) + step;
            assertEquals(ref.validate(c), window.validate(c), () -> "counter " + Long.toUnsignedString(c));
        }
    }

    @Provide
    Arbitrary<Long> starts() {
        return Arbitraries.oneOf(
                Arbitraries.just(0L),
                Arbitraries.longs().between(0, 3 * COUNTER_WINDOW_SIZE),
                Arbitraries.longs().between(Long.MAX_VALUE - 3 * COUNTER_WINDOW_SIZE, Long.MAX_VALUE),
                Arbitraries.longs().between(-3 * COUNTER_WINDOW_SIZE, -1)); // up to REJECT_AFTER_MESSAGES
    }

    @Provide
    Arbitrary<List<Long>> steps() {
        long w = COUNTER_WINDOW_SIZE;
        Arbitrary<Long> step = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.longs().between(-70, 70)),
                Tuple.of(4, Arbitraries.longs().between(-w - 70, -w + 70)),
                Tuple.of(2, Arbitraries.longs().between(-w, 0)),
                Tuple.of(1, Arbitraries.longs().between(8192 - 70, 8192 + 70)),
                Tuple.of(1, Arbitraries.longs().between(1, 3 * w)));
        return step.list().ofMaxSize(400);
    }
}
